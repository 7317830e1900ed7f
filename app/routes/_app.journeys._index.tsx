import type { LinksFunction, LoaderFunctionArgs } from "@remix-run/node";
import { json } from "@remix-run/node";
import { Form, useLoaderData, useNavigate, useRevalidator, useSubmit } from "@remix-run/react";
import { useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { journeyStatuses, type JourneyStatus } from "../../db/schema";
import canvasStyles from "../canvas/canvas.css";
import { journeyListStats } from "../lib/analytics.server";
import { listJourneys } from "../lib/journey-list.server";
import { transitionAllowed } from "../lib/journey-transitions";
import { roleMay } from "../lib/permissions";
import { requireSession } from "../lib/session.server";
import { trpc } from "../trpc/client";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: canvasStyles }];

export async function loader({ request, context }: LoaderFunctionArgs) {
  const session = await requireSession(request, context);
  const url = new URL(request.url);
  const search = url.searchParams.get("q") ?? "";
  const statusParam = url.searchParams.get("status");
  const status = journeyStatuses.includes(statusParam as JourneyStatus) ? (statusParam as JourneyStatus) : undefined;
  const db = context.services.db;
  const [rows, all] = await Promise.all([
    listJourneys(db, session.workspaceId, { search, status }),
    // Whether the workspace has any journey at all: an empty filter result is not an empty workspace.
    search || status ? listJourneys(db, session.workspaceId).then((r) => r.length) : Promise.resolve(-1),
  ]);
  const stats = await journeyListStats(db, session.workspaceId, rows.filter((r) => r.liveVersion !== null).map((r) => r.id));
  // Buttons are offered only to roles the permission table allows (the server checks again).
  const may = { archive: roleMay(session.role, "journeys.archive"), unarchive: roleMay(session.role, "journeys.unarchive") };
  return json({ journeys: rows, stats, search, status: status ?? "", hasAny: all === -1 ? rows.length > 0 : all > 0, may });
}

export default function JourneysPage() {
  const { journeys, stats, search, status, hasAny, may } = useLoaderData<typeof loader>();
  const { t, i18n } = useTranslation("canvas");
  const navigate = useNavigate();
  const submit = useSubmit();
  const revalidator = useRevalidator();
  const utils = trpc.useUtils();
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const searchTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const refresh = () => revalidator.revalidate();
  const fail = (e: unknown) => setError(e instanceof Error ? e.message : String(e));
  const create = trpc.journeys.create.useMutation({ onSuccess: ({ id }) => navigate(`/journeys/${id}`), onError: fail });
  const duplicate = trpc.journeys.duplicate.useMutation({ onSuccess: refresh, onError: fail });
  const rename = trpc.journeys.rename.useMutation({ onSuccess: refresh, onError: fail });
  const archive = trpc.journeys.archive.useMutation({ onSuccess: refresh, onError: fail });
  const unarchive = trpc.journeys.unarchive.useMutation({ onSuccess: refresh, onError: fail });
  const importJourney = trpc.journeys.import.useMutation({ onSuccess: ({ id }) => navigate(`/journeys/${id}`), onError: (e) => setError(t("list.importFailed", { error: e.message })) });

  const locale = i18n.language === "zh" ? "zh-CN" : "en-GB";
  const number = (n: number) => n.toLocaleString(locale);
  const when = (value: string) => new Date(value).toLocaleString(locale, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

  const exportJourney = async (id: string, journeyName: string) => {
    const document = await utils.journeys.export.fetch({ id });
    const url = URL.createObjectURL(new Blob([JSON.stringify(document, null, 2)], { type: "application/json" }));
    const link = Object.assign(window.document.createElement("a"), { href: url, download: `${journeyName.replace(/[^\p{L}\p{N}_-]+/gu, "_")}.json` });
    link.click();
    URL.revokeObjectURL(url);
  };

  const onImport = async (file: File | undefined) => {
    if (!file) return;
    try {
      importJourney.mutate({ document: JSON.parse(await file.text()) });
    } catch (e) {
      setError(t("list.importFailed", { error: e instanceof Error ? e.message : String(e) }));
    }
  };

  const newForm = creating ? (
    <form
      className="wp-new-form"
      onSubmit={(e) => {
        e.preventDefault();
        create.mutate({ name: name.trim() || t("list.defaultName") });
      }}
    >
      <input autoFocus aria-label={t("list.newName")} placeholder={t("list.newName")} value={name} onChange={(e) => setName(e.target.value)} data-testid="new-journey-name" />
      <button type="submit" className="primary" disabled={create.isPending} data-testid="create-journey">
        {t("list.create")}
      </button>
    </form>
  ) : (
    <button type="button" className="primary" onClick={() => setCreating(true)} data-testid="new-journey">
      + {t("list.new")}
    </button>
  );

  return (
    <>
      <div className="wp-list-bar">
        <h1 data-testid="page-title">{t("list.title")}</h1>
        {hasAny ? (
          <Form method="get" role="search" className="wp-new-form" onChange={(e) => {
            const form = e.currentTarget;
            if (searchTimer.current) clearTimeout(searchTimer.current);
            searchTimer.current = setTimeout(() => submit(form, { replace: true }), 250);
          }}>
            <input type="search" name="q" defaultValue={search} placeholder={t("list.search")} aria-label={t("list.search")} />
            <select name="status" defaultValue={status} aria-label={t("list.filterStatus")}>
              <option value="">{t("list.allStatuses")}</option>
              {journeyStatuses.map((s) => (
                <option key={s} value={s}>
                  {t(`status.${s}`)}
                </option>
              ))}
            </select>
          </Form>
        ) : null}
        <button type="button" onClick={() => fileInput.current?.click()}>
          {t("list.import")}
        </button>
        <input ref={fileInput} type="file" accept="application/json,.json" hidden onChange={(e) => void onImport(e.target.files?.[0])} />
        {newForm}
      </div>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {!hasAny ? (
        <section className="empty-state" data-testid="empty-journeys">
          <h2>{t("list.emptyTitle")}</h2>
          <p>{t("list.emptyBody")}</p>
        </section>
      ) : journeys.length === 0 ? (
        <p className="muted">{t("list.noMatch")}</p>
      ) : (
        <table className="table wp-list-table" data-testid="journey-list">
          <thead>
            <tr>
              <th>{t("list.name")}</th>
              <th>{t("list.status")}</th>
              <th>{t("list.version")}</th>
              <th className="num">{t("list.inside")}</th>
              <th className="num">{t("list.entered")}</th>
              <th className="num">{t("list.conversion")}</th>
              <th>{t("list.lastEdited")}</th>
              <th className="num">{t("list.actions")}</th>
            </tr>
          </thead>
          <tbody>
            {journeys.map((j) => (
              <tr key={j.id} data-testid={`journey-row-${j.id}`}>
                <td>
                  <a className="wp-journey-link" href={`/journeys/${j.id}`}>
                    {j.name}
                  </a>
                </td>
                <td>
                  <span className={`wp-badge ${j.status}`}>{t(`status.${j.status}`)}</span>
                </td>
                <td>
                  {j.liveVersion ? t("list.versionN", { n: j.liveVersion }) : <span className="muted">{t("list.noVersion")}</span>}
                  {j.hasDraft && j.liveVersion ? <span className="muted"> {t("list.draftPending")}</span> : null}
                </td>
                {stats[j.id] ? (
                  <>
                    <td className="num" data-testid="inside">{number(stats[j.id].inside)}</td>
                    <td className="num">{number(stats[j.id].entered)}</td>
                    <td className="num" data-testid="conversion" title={j.hasGoal ? undefined : t("list.noGoal")}>{!j.hasGoal ? "—" : stats[j.id].entered > 0 ? `${(Math.round(stats[j.id].conversionRate * 1000) / 10).toLocaleString(locale)}%` : t("list.noStats")}</td>
                  </>
                ) : (
                  // Never published: nobody can have entered yet.
                  [0, 1, 2].map((i) => (
                    <td key={i} className="num muted" title={t("list.statsPending")}>
                      {t("list.noStats")}
                    </td>
                  ))
                )}
                <td className="muted">{t("list.by", { at: when(j.updatedAt), who: j.updatedBy ?? t("list.someone") })}</td>
                <td>
                  <span className="wp-row-actions">
                    <button
                      type="button"
                      className="link"
                      onClick={() => {
                        const next = window.prompt(t("list.renamePrompt", { name: j.name }), j.name);
                        if (next && next.trim() && next !== j.name) rename.mutate({ id: j.id, name: next.trim() });
                      }}
                    >
                      {t("list.rename")}
                    </button>
                    <button type="button" className="link" onClick={() => duplicate.mutate({ id: j.id, name: t("list.duplicateName", { name: j.name }) })}>
                      {t("list.duplicate")}
                    </button>
                    <button type="button" className="link" onClick={() => void exportJourney(j.id, j.name)}>
                      {t("list.export")}
                    </button>
                    {may.unarchive && transitionAllowed("unarchive", j.status) ? (
                      <button type="button" className="link" onClick={() => unarchive.mutate({ id: j.id })} data-testid="unarchive">
                        {t("list.unarchive")}
                      </button>
                    ) : may.archive && transitionAllowed("archive", j.status) ? (
                      <button
                        type="button"
                        className="link danger"
                        onClick={() => window.confirm(t("list.confirmArchive", { name: j.name })) && archive.mutate({ id: j.id })}
                        data-testid="archive"
                      >
                        {t("list.archive")}
                      </button>
                    ) : null}
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
