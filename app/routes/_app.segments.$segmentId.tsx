import type { LoaderFunctionArgs } from "@remix-run/node";
import { json } from "@remix-run/node";
import { Link, useLoaderData, useNavigate, useRevalidator } from "@remix-run/react";
import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { requireSession } from "../lib/session.server";
import { lifecycleParamsSchema, rfmParamsSchema } from "../segments/presets";
import { GroupEditor, type Vocabulary } from "../segments/RuleBuilder";
import { segmentDefinitionSchema, type RuleGroup } from "../segments/rules";
import { getSegment, SegmentError } from "../segments/store.server";
import { trpc } from "../trpc/client";
import { useDateTime } from "../users/format";

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const session = await requireSession(request, context);
  try {
    const segment = await getSegment(context.services.db, session.workspaceId, params.segmentId ?? "");
    return json({ segment });
  } catch (error) {
    if (error instanceof SegmentError && error.code === "not_found") throw new Response("Not found", { status: 404 });
    throw error;
  }
}

const noVocabulary: Vocabulary = { events: [], traits: [], tags: [] };

/** Keeps a value stable until it stopped changing for `ms` (the audience preview waits for typing to pause). */
function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

export default function SegmentPage() {
  const { segment } = useLoaderData<typeof loader>();
  const { t } = useTranslation("data");
  const navigate = useNavigate();
  const revalidator = useRevalidator();
  const vocabulary = trpc.segments.vocabulary.useQuery(undefined, { staleTime: 60_000 });
  const [definition, setDefinition] = useState<RuleGroup>(segment.definition as unknown as RuleGroup);
  const [name, setName] = useState(segment.name);
  const [description, setDescription] = useState(segment.description);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    setDefinition(segment.definition as unknown as RuleGroup);
    setName(segment.name);
    setDescription(segment.description);
  }, [segment]);

  const validation = useMemo(() => segmentDefinitionSchema.safeParse(definition), [definition]);
  const debounced = useDebounced(definition, 300);
  const debouncedValid = useMemo(() => segmentDefinitionSchema.safeParse(debounced).success, [debounced]);
  const preview = trpc.segments.preview.useQuery({ definition: debounced }, { enabled: debouncedValid, placeholderData: (previous) => previous });
  const dirty =
    JSON.stringify(definition) !== JSON.stringify(segment.definition) || name !== segment.name || description !== segment.description;

  const onSaved = () => {
    setSaved(true);
    revalidator.revalidate();
  };
  const update = trpc.segments.update.useMutation({ onSuccess: onSaved });
  const archive = trpc.segments.archive.useMutation({ onSuccess: () => navigate("/segments") });

  return (
    <div className="data-segment" data-testid="segment-page">
      <Link to="/segments">{t("segment.back")}</Link>
      <div className="data-header">
        <h1>{segment.name}</h1>
        <span className="muted" data-testid="segment-members-count">
          {t("segment.currentMembers", { count: segment.memberCount })}
        </span>
        <button
          type="button"
          className="danger data-push-right"
          onClick={() => {
            if (window.confirm(t("segment.archiveConfirm"))) archive.mutate({ id: segment.id });
          }}
        >
          {t("segment.archive")}
        </button>
      </div>
      <section className="card">
        <div className="row">
          <label>
            {t("segment.name")}
            <input value={name} onChange={(e) => (setName(e.target.value), setSaved(false))} data-testid="segment-name" />
          </label>
          <label className="data-grow">
            {t("segment.description")}
            <input value={description} onChange={(e) => (setDescription(e.target.value), setSaved(false))} />
          </label>
          <label>
            {t("segment.key")}
            <code className="data-key">{segment.key}</code>
          </label>
        </div>
      </section>
      {segment.preset ? <Thresholds segmentId={segment.id} preset={segment.preset} onApplied={onSaved} /> : null}
      <section className="card">
        <div className="data-header">
          <h2>{t("segment.rules")}</h2>
          <div className="data-audience data-push-right" data-testid="audience-preview" aria-live="polite">
            {!validation.success ? (
              <span className="form-error">{validation.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}</span>
            ) : preview.isFetching && preview.data === undefined ? (
              t("segment.audienceCounting")
            ) : preview.data ? (
              <strong>{t("segment.audienceCount", { count: preview.data.count })}</strong>
            ) : null}
          </div>
        </div>
        <GroupEditor group={definition} onChange={(g) => (setDefinition(g), setSaved(false))} vocabulary={vocabulary.data ?? noVocabulary} />
        <div className="row data-save-row">
          <button
            type="button"
            className="primary"
            disabled={!dirty || !validation.success || update.isPending}
            onClick={() => update.mutate({ id: segment.id, name, description, definition })}
            data-testid="save-segment"
          >
            {t("segment.save")}
          </button>
          {dirty ? <span className="muted">{t("segment.unsaved")}</span> : saved ? <span className="notice">{t("segment.saved")}</span> : null}
        </div>
        {update.error ? (
          <p className="form-error" role="alert">
            {update.error.message}
          </p>
        ) : null}
      </section>
      <Members segmentId={segment.id} version={segment.computedAt ?? segment.updatedAt} />
    </div>
  );
}

function Thresholds({
  segmentId,
  preset,
  onApplied,
}: {
  segmentId: string;
  preset: { family: "lifecycle" | "rfm"; stage: string; params: Record<string, number | string> };
  onApplied: () => void;
}) {
  const { t } = useTranslation("data");
  const schema = preset.family === "lifecycle" ? lifecycleParamsSchema : rfmParamsSchema;
  const defaults = schema.parse({}) as Record<string, number | string>;
  const [params, setParams] = useState<Record<string, number | string>>({ ...defaults, ...preset.params });
  const apply = trpc.segments.updatePreset.useMutation({ onSuccess: onApplied });
  const check = schema.safeParse(params);
  return (
    <section className="card" data-testid="thresholds">
      <h2>{t("segment.thresholds")}</h2>
      <p className="muted">{t("segment.thresholdsHelp")}</p>
      <div className="row">
        {Object.keys(defaults).map((key) => (
          <label key={key}>
            {t(`segment.params.${key}`, { defaultValue: key })}
            <input
              type={typeof defaults[key] === "number" ? "number" : "text"}
              value={params[key]}
              className={typeof defaults[key] === "number" ? "data-num" : undefined}
              onChange={(e) => setParams({ ...params, [key]: typeof defaults[key] === "number" ? Number(e.target.value) : e.target.value })}
              data-testid={`param-${key}`}
            />
          </label>
        ))}
        <button type="button" className="primary" disabled={!check.success || apply.isPending} onClick={() => apply.mutate({ id: segmentId, params })} data-testid="apply-thresholds">
          {t("segment.applyThresholds")}
        </button>
      </div>
      {!check.success ? <p className="form-error">{check.error.issues.map((i) => `${t(`segment.params.${String(i.path[0])}`)}: ${i.message}`).join("; ")}</p> : null}
      {apply.error ? <p className="form-error">{apply.error.message}</p> : null}
    </section>
  );
}

function Members({ segmentId, version }: { segmentId: string; version: string | Date }) {
  const { t } = useTranslation("data");
  const when = useDateTime();
  const utils = trpc.useUtils();
  const first = trpc.segments.members.useQuery({ id: segmentId, limit: 50 });
  const [more, setMore] = useState<NonNullable<typeof first.data>>([]);
  const [done, setDone] = useState(false);
  useEffect(() => {
    setMore([]);
    setDone(false);
    void utils.segments.members.invalidate({ id: segmentId });
  }, [version, segmentId, utils]);
  const rows = [...(first.data ?? []), ...more];
  const exhausted = done || (first.data !== undefined && first.data.length < 50);
  return (
    <section className="card" data-testid="segment-members">
      <h2>{t("segment.memberList")}</h2>
      {first.data && rows.length === 0 ? <p className="muted">{t("segment.noMembers")}</p> : null}
      {rows.length > 0 ? (
        <table className="table data-table">
          <thead>
            <tr>
              <th>{t("users.columns.user")}</th>
              <th>{t("users.columns.email")}</th>
              <th>{t("users.columns.phone")}</th>
              <th>{t("profile.columns.since")}</th>
              <th>{t("users.columns.lastSeen")}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((m) => (
              <tr key={m.userId}>
                <td>
                  <Link to={`/users/${encodeURIComponent(m.userId)}`}>{m.userId}</Link>
                  {m.name ? <div className="muted">{m.name}</div> : null}
                </td>
                <td>{m.email ?? "—"}</td>
                <td>{m.phone ?? "—"}</td>
                <td>{when(m.enteredAt)}</td>
                <td>{when(m.lastSeenAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {!exhausted && rows.length > 0 ? (
        <button
          type="button"
          className="data-more"
          onClick={async () => {
            const last = rows.at(-1)!;
            const page = await utils.segments.members.fetch({ id: segmentId, limit: 50, after: { enteredAt: last.enteredAt, userId: last.userId } });
            setMore((m) => [...m, ...page]);
            if (page.length < 50) setDone(true);
          }}
        >
          {t("segment.loadMore")}
        </button>
      ) : null}
    </section>
  );
}
