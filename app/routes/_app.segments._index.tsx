import type { LoaderFunctionArgs } from "@remix-run/node";
import { json } from "@remix-run/node";
import { Link, useLoaderData, useNavigate, useRevalidator } from "@remix-run/react";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { requireSession } from "../lib/session.server";
import { describeRule, emptyDefinition, segmentDefinitionSchema } from "../segments/rules";
import { listSegments } from "../segments/store.server";
import { trpc } from "../trpc/client";
import { useDateTime } from "../users/format";

export async function loader({ request, context }: LoaderFunctionArgs) {
  const session = await requireSession(request, context);
  const segments = await listSegments(context.services.db, session.workspaceId);
  return json({
    segments: segments.map((s) => {
      const parsed = segmentDefinitionSchema.safeParse(s.definition);
      return {
        id: s.id,
        key: s.key,
        name: s.name,
        description: s.description,
        preset: s.preset,
        timeDependent: s.timeDependent,
        memberCount: s.memberCount,
        computedAt: s.computedAt,
        rules: { en: parsed.success ? describeRule(parsed.data, "en") : "", zh: parsed.success ? describeRule(parsed.data, "zh") : "" },
      };
    }),
  });
}

export default function SegmentsPage() {
  const { segments } = useLoaderData<typeof loader>();
  const { t, i18n } = useTranslation("data");
  const when = useDateTime();
  const navigate = useNavigate();
  const revalidator = useRevalidator();
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState("");
  const locale = i18n.language === "zh" ? "zh" : "en";
  const create = trpc.segments.create.useMutation({ onSuccess: (s) => navigate(`/segments/${s.id}`) });
  const presets = trpc.segments.createPresets.useMutation({ onSuccess: () => revalidator.revalidate() });
  const hasLifecycle = segments.some((s) => s.preset?.family === "lifecycle");
  const hasRfm = segments.some((s) => s.preset?.family === "rfm");
  const error = create.error ?? presets.error;

  return (
    <>
      <div className="data-header">
        <h1>{t("segments.title")}</h1>
        <button type="button" className="primary data-push-right" onClick={() => setCreating(true)} data-testid="new-segment">
          {t("segments.new")}
        </button>
      </div>
      {creating ? (
        <form
          className="row card"
          onSubmit={(e) => {
            e.preventDefault();
            if (name.trim()) create.mutate({ name: name.trim(), definition: emptyDefinition() });
          }}
        >
          <label>
            {t("segments.newName")}
            <input autoFocus value={name} onChange={(e) => setName(e.target.value)} data-testid="new-segment-name" />
          </label>
          <button type="submit" className="primary" disabled={create.isPending || !name.trim()} data-testid="create-segment">
            {t("segments.create")}
          </button>
          <button type="button" onClick={() => setCreating(false)}>
            {t("segments.cancel")}
          </button>
        </form>
      ) : null}
      {error ? (
        <p className="form-error" role="alert">
          {error.message}
        </p>
      ) : null}
      {!hasLifecycle || !hasRfm ? (
        <section className="card data-presets">
          <h2>{t("segments.presets")}</h2>
          <p className="muted">{t("segments.presetsHelp")}</p>
          <div className="row">
            {!hasLifecycle ? (
              <button type="button" disabled={presets.isPending} onClick={() => presets.mutate({ family: "lifecycle", locale })} data-testid="add-lifecycle">
                {t("segments.addLifecycle")}
              </button>
            ) : null}
            {!hasRfm ? (
              <button type="button" disabled={presets.isPending} onClick={() => presets.mutate({ family: "rfm", locale })} data-testid="add-rfm">
                {t("segments.addRfm")}
              </button>
            ) : null}
          </div>
        </section>
      ) : null}
      {segments.length === 0 ? (
        <p className="muted">{t("segments.empty")}</p>
      ) : (
        <table className="table data-table" data-testid="segments-table">
          <thead>
            <tr>
              <th>{t("segments.columns.name")}</th>
              <th>{t("segments.columns.rules")}</th>
              <th>{t("segments.columns.members")}</th>
              <th>{t("segments.columns.updated")}</th>
            </tr>
          </thead>
          <tbody>
            {segments.map((s) => (
              <tr key={s.id}>
                <td>
                  <Link to={`/segments/${s.id}`}>{s.name}</Link>
                  <div className="muted">
                    <code>{s.key}</code>
                    {s.preset ? <span className="data-badge">{t("segments.preset")}</span> : null}
                    {s.timeDependent ? <span className="data-badge">{t("segments.timeBased")}</span> : null}
                  </div>
                </td>
                <td className="data-rules-text">{s.rules[locale]}</td>
                <td data-testid={`count-${s.key}`}>{t("segments.members", { count: s.memberCount })}</td>
                <td>{when(s.computedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
