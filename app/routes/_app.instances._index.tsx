import type { LoaderFunctionArgs } from "@remix-run/node";
import { json } from "@remix-run/node";
import { Form, Link, useLoaderData, useRevalidator } from "@remix-run/react";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { engineHealth, instanceFilterOptions, listInstances, type InstanceFilter, type InstanceListItem } from "../lib/instances.server";
import { instanceViews, pauseChoices, type InstanceView, type PauseChoice } from "../ops/views";
import { roleMay } from "../lib/permissions";
import { requireSession } from "../lib/session.server";
import { useOperationError, useDuration, useTimestamp, ViewBadge } from "../ops/shared";
import { useNodeNames } from "../ops/names";
import { trpc } from "../trpc/client";

const PAGE = 50;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function readFilter(url: URL): InstanceFilter {
  const get = (name: string) => url.searchParams.get(name)?.trim() || undefined;
  const status = get("status");
  const journeyId = get("journey");
  const versionId = get("version");
  return {
    journeyId: journeyId && UUID.test(journeyId) ? journeyId : undefined,
    versionId: versionId && UUID.test(versionId) ? versionId : undefined,
    nodeId: get("node"),
    userId: get("user"),
    status: status && (instanceViews as readonly string[]).includes(status) ? (status as InstanceView) : undefined,
  };
}

export async function loader({ request, context }: LoaderFunctionArgs) {
  const session = await requireSession(request, context);
  const filter = readFilter(new URL(request.url));
  const { db } = context.services;
  const [page, options, health] = await Promise.all([
    listInstances(db, session.workspaceId, { ...filter, limit: PAGE }),
    instanceFilterOptions(db, session.workspaceId),
    engineHealth(db, context.services.now().getTime()),
  ]);
  return json({ page, options, health, filter, isAdmin: roleMay(session.role, "instances.operate"), canPause: roleMay(session.role, "journeys.pause"), canResume: roleMay(session.role, "journeys.resume") });
}

export default function InstancesPage() {
  const { page, options, health, filter, isAdmin, canPause, canResume } = useLoaderData<typeof loader>();
  const { t, i18n } = useTranslation("ops");
  const when = useTimestamp();
  const utils = trpc.useUtils();
  const revalidator = useRevalidator();
  const explain = useOperationError();
  const [more, setMore] = useState<InstanceListItem[]>([]);
  const [next, setNext] = useState<string | null>(page.next);
  const [journeyId, setJourneyId] = useState(filter.journeyId ?? "");
  const [notice, setNotice] = useState<string | null>(null);
  /** The journey whose pause waits for the choice about users inside. */
  const [pausing, setPausing] = useState<{ journeyId: string; name: string } | null>(null);
  const [inside, setInside] = useState<PauseChoice>("keep_running");
  const pause = trpc.journeys.pause.useMutation({
    onSuccess: (_data, input) => {
      setNotice(t(`actions.done.paused_${input.inside ?? "keep_running"}`));
      setPausing(null);
      revalidator.revalidate();
    },
  });
  const resume = trpc.journeys.resume.useMutation({
    onSuccess: () => {
      setNotice(t("actions.done.live"));
      revalidator.revalidate();
    },
  });
  const setStatus = { isPending: pause.isPending || resume.isPending, error: pause.error ?? resume.error };
  const cancelMany = trpc.operations.cancelMany.useMutation({
    onSuccess: (data) => {
      setNotice(t("bulk.done", { count: data.cancelled }));
      revalidator.revalidate();
    },
  });
  const selection = { journeyId: filter.journeyId, versionId: filter.versionId, nodeId: filter.nodeId, status: filter.status, userId: filter.userId };
  const bulkCancel = async () => {
    setNotice(null);
    // The count is read when asked, so the confirmation states what will be cancelled now.
    const { count } = await utils.operations.cancelCount.fetch(selection, { staleTime: 0 });
    if (count === 0) {
      setNotice(t("bulk.none"));
      return;
    }
    if (!window.confirm(t("bulk.confirm", { count }))) return;
    cancelMany.mutate(selection);
  };

  useEffect(() => {
    setMore([]);
    setNext(page.next);
  }, [page]);
  useEffect(() => setJourneyId(filter.journeyId ?? ""), [filter.journeyId]);

  const rows = [...page.items, ...more];
  const selected = options.journeys.find((j) => j.id === journeyId);
  const nodes = selected ? selected.nodes : [...new Set(options.journeys.flatMap((j) => j.nodes))].sort();
  const filtered = Object.values(filter).some(Boolean);
  /** Pause/resume is a journey action: offered once, for the journey the list is filtered by, not on every row. */
  const current = options.journeys.find((j) => j.id === filter.journeyId);
  const names = useNodeNames(selected?.nodeNames);
  const lang = i18n.language === "zh" ? "zh" : "en";
  const nodeLabel = (n: string) => {
    if (selected) return names.node(n);
    const found = options.journeys.map((j) => j.nodeNames[n]?.label[lang]).filter((l): l is string => Boolean(l));
    return [...new Set(found)].join(" / ") || n;
  };

  const loadMore = async () => {
    if (!next) return;
    const found = await utils.operations.list.fetch({ ...filter, after: next, limit: PAGE });
    setMore((m) => [...m, ...found.items]);
    setNext(found.next);
  };

  return (
    <>
      <div className="data-header">
        <h1>{t("title")}</h1>
        <span className="muted">{t("subtitle")}</span>
      </div>
      <HealthPanel health={health} onRefresh={() => revalidator.revalidate()} />
      <Form method="get" className="row ops-filters" role="search" data-testid="instances-filters">
        <label>
          {t("filters.journey")}
          <select name="journey" value={journeyId} onChange={(e) => setJourneyId(e.target.value)} data-testid="filter-journey">
            <option value="">{t("filters.any")}</option>
            {options.journeys.map((j) => (
              <option key={j.id} value={j.id}>
                {j.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("filters.version")}
          <select name="version" defaultValue={filter.versionId ?? ""} key={`v-${journeyId}`} disabled={!selected} data-testid="filter-version">
            <option value="">{t("filters.any")}</option>
            {selected?.versions.map((v) => (
              <option key={v.id} value={v.id}>
                {t("filters.versionN", { version: v.version })}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("filters.node")}
          <select name="node" defaultValue={filter.nodeId ?? ""} key={`n-${journeyId}`} data-testid="filter-node">
            <option value="">{t("filters.any")}</option>
            {nodes.map((n) => (
              <option key={n} value={n} title={n}>
                {nodeLabel(n)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("filters.status")}
          <select name="status" defaultValue={filter.status ?? ""} data-testid="filter-status">
            <option value="">{t("filters.any")}</option>
            {instanceViews.map((v) => (
              <option key={v} value={v}>
                {t(`view.${v}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("filters.user")}
          <input name="user" defaultValue={filter.userId ?? ""} data-testid="filter-user" />
        </label>
        <button type="submit" className="primary" data-testid="filter-apply">
          {t("filters.apply")}
        </button>
        {filtered ? (
          <Link to="/instances" className="data-link-button">
            {t("filters.clear")}
          </Link>
        ) : null}
      </Form>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      {setStatus.error || cancelMany.error ? (
        <p className="form-error" role="alert">
          {explain(setStatus.error ?? cancelMany.error)}
        </p>
      ) : null}
      {isAdmin && filtered ? (
        <div className="row ops-bulk">
          {current && ((current.status === "live" && canPause) || (current.status === "paused" && canResume)) ? (
            <button
              type="button"
              disabled={setStatus.isPending}
              onClick={() => {
                setNotice(null);
                if (current.status === "paused") {
                  resume.mutate({ id: current.id });
                  return;
                }
                // Pausing asks first what happens to the users inside.
                setInside("keep_running");
                setPausing({ journeyId: current.id, name: current.name });
              }}
              data-testid="journey-toggle"
            >
              {current.status === "live" ? t("pauseJourney") : t("resumeJourney")}
            </button>
          ) : null}
          <button type="button" className="danger" disabled={cancelMany.isPending} onClick={() => void bulkCancel()} data-testid="bulk-cancel">
            {t("bulk.cancel")}
          </button>
        </div>
      ) : null}
      {pausing ? (
        <section className="card ops-pause" data-testid="pause-choice" aria-labelledby="ops-pause-title">
          <h2 id="ops-pause-title">{t("pause.title", { journey: pausing.name })}</h2>
          <p>{t("pause.intro")}</p>
          {pauseChoices.map((choice) => (
            <label key={choice} className="ops-pause-choice">
              <input type="radio" name="inside" value={choice} checked={inside === choice} onChange={() => setInside(choice)} data-testid={`pause-${choice}`} />
              <strong>{t(`pause.${choice}`)}</strong>
              <span className="muted">{t(`pause.${choice}Hint`)}</span>
            </label>
          ))}
          <div className="row">
            <button
              type="button"
              className="primary"
              disabled={setStatus.isPending}
              onClick={() => pause.mutate({ id: pausing.journeyId, inside })}
              data-testid="pause-confirm"
            >
              {t("pause.confirm")}
            </button>
            <button type="button" className="link" onClick={() => setPausing(null)}>
              {t("pause.back")}
            </button>
          </div>
        </section>
      ) : null}
      {rows.length === 0 ? (
        <p className="muted ops-empty" data-testid="instances-empty">
          {filtered ? t("empty") : t("none")}
        </p>
      ) : (
        <table className="table data-table ops-table" data-testid="instances-table">
          <thead>
            <tr>
              <th>{t("columns.user")}</th>
              <th>{t("columns.journey")}</th>
              <th>{t("columns.status")}</th>
              <th>{t("columns.node")}</th>
              <th>{t("columns.next")}</th>
              <th>{t("columns.entered")}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((item) => (
              <tr key={item.id} data-testid="instance-row" data-instance-id={item.id}>
                <td>
                  <Link to={`/instances/${item.id}`} data-testid="instance-link">
                    {item.userId}
                  </Link>
                </td>
                <td>
                  {item.journeyName} <span className="data-badge">{t("filters.versionN", { version: item.version })}</span>
                  {item.journeyStatus === "paused" ? <span className="data-badge ops-paused">{t(item.journeyHeld ? "journeyHeld" : "journeyPaused")}</span> : null}
                  {item.engine === "temporal" ? <span className="data-badge">{t("engineTemporal")}</span> : null}
                </td>
                <td>
                  <ViewBadge view={item.view} reason={item.reason} />
                  {item.reason ? <div className="muted ops-reason">{t(`reason.${item.reason}`, { defaultValue: item.reason })}</div> : null}
                </td>
                <td>
                  {item.nodeId ? (
                    <span className="ops-node" title={item.nodeId} data-node-id={item.nodeId}>
                      {item.nodeLabel?.[lang] ?? item.nodeId}
                    </span>
                  ) : (
                    "—"
                  )}
                </td>
                <td>{item.view === "waiting" || item.view === "running" ? when(item.wakeAt) : "—"}</td>
                <td>{when(item.enteredAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next ? (
        <button type="button" onClick={loadMore} className="data-more" data-testid="instances-more">
          {t("loadMore")}
        </button>
      ) : null}
    </>
  );
}

type Health = ReturnType<typeof useLoaderData<typeof loader>>["health"];

function HealthPanel({ health, onRefresh }: { health: Health; onRefresh: () => void }) {
  const { t } = useTranslation("ops");
  const duration = useDuration();
  // Behind: timers more than a minute late, or side effects retried after lost workers.
  const behind = health.oldestDueLagMs > 60_000 || health.outboxFailed > 0;
  const items: Array<{ key: string; label: string; value: string; warn?: boolean }> = [
    { key: "dueBacklog", label: t("health.dueBacklog"), value: String(health.dueBacklog), warn: health.dueBacklog > 0 && health.oldestDueLagMs > 60_000 },
    { key: "lag", label: t("health.lag"), value: duration(health.oldestDueLagMs), warn: health.oldestDueLagMs > 60_000 },
    { key: "outboxPending", label: t("health.outboxPending"), value: String(health.outboxPending) },
    { key: "outboxFailed", label: t("health.outboxFailed"), value: String(health.outboxFailed), warn: health.outboxFailed > 0 },
    { key: "throughput", label: t("health.throughput"), value: String(health.stepsLastMinute) },
    { key: "failures", label: t("health.failures"), value: String(health.failuresLastHour), warn: health.failuresLastHour > 0 },
    { key: "active", label: t("health.active"), value: String(health.activeInstances) },
  ];
  return (
    <section className="card ops-health" data-testid="engine-health" aria-labelledby="ops-health-title">
      <div className="ops-health-head">
        <h2 id="ops-health-title">{t("health.title")}</h2>
        <span className={`ops-badge ${behind ? "ops-badge-failed" : "ops-badge-completed"}`}>{behind ? t("health.behind") : t("health.ok")}</span>
        <button type="button" className="link ops-push-right" onClick={onRefresh}>
          {t("health.refresh")}
        </button>
      </div>
      <dl className="ops-health-grid">
        {items.map((item) => (
          <div key={item.key} className={item.warn ? "ops-warn" : undefined} data-testid={`health-${item.key}`}>
            <dt>{item.label}</dt>
            <dd>{item.value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
