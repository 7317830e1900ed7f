import type { LoaderFunctionArgs } from "@remix-run/node";
import { json } from "@remix-run/node";
import { Link, useLoaderData, useRevalidator } from "@remix-run/react";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { getInstance, type InstanceDetail, type TimelineEntry } from "../lib/instances.server";
import { roleMay } from "../lib/permissions";
import { requireSession } from "../lib/session.server";
import { useOperationError, useTimestamp, ViewBadge } from "../ops/shared";
import { NodeTitle, useFailureReason, useNodeNames, type NodeNames } from "../ops/names";
import { trpc } from "../trpc/client";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const session = await requireSession(request, context);
  const id = params.instanceId ?? "";
  const instance = UUID.test(id) ? await getInstance(context.services.db, session.workspaceId, id) : null;
  if (!instance) throw new Response("Not found", { status: 404 });
  return json({ instance, isAdmin: roleMay(session.role, "instances.operate") });
}

type Action = "cancel" | "skipWait" | "retry";

export default function InstancePage() {
  const { instance, isAdmin } = useLoaderData<typeof loader>();
  const { t } = useTranslation("ops");
  const when = useTimestamp();
  const revalidator = useRevalidator();
  const explain = useOperationError();
  const names = useNodeNames(instance.nodeNames);
  const failure = useFailureReason();
  const [notice, setNotice] = useState<string | null>(null);
  const onSuccess = (action: Action) => () => {
    setNotice(t(`actions.done.${action}`));
    revalidator.revalidate();
  };
  const cancel = trpc.operations.cancel.useMutation({ onSuccess: onSuccess("cancel") });
  const skip = trpc.operations.skipWait.useMutation({ onSuccess: onSuccess("skipWait") });
  const retry = trpc.operations.retry.useMutation({ onSuccess: onSuccess("retry") });
  const busy = cancel.isPending || skip.isPending || retry.isPending;
  const error = cancel.error ?? skip.error ?? retry.error;

  const run = (action: Action) => {
    const confirmKey = { cancel: "actions.confirmCancel", skipWait: "actions.confirmSkip", retry: "actions.confirmRetry" }[action];
    if (!window.confirm(t(confirmKey))) return;
    setNotice(null);
    for (const m of [cancel, skip, retry]) m.reset();
    const mutation = { cancel, skipWait: skip, retry }[action];
    mutation.mutate({ id: instance.id });
  };

  return (
    <div className="ops-detail" data-testid="instance-detail" data-view={instance.view}>
      <p>
        <Link to="/instances">← {t("detail.back")}</Link>
      </p>
      <div className="data-header">
        <h1>{t("detail.title", { journey: instance.journeyName })}</h1>
        <ViewBadge view={instance.view} reason={instance.reason} />
      </div>
      {notice ? (
        <p className="notice" role="status" data-testid="ops-notice">
          {notice}
        </p>
      ) : null}
      {error ? (
        <p className="form-error" role="alert" data-testid="ops-error">
          {explain(error)}
        </p>
      ) : null}
      <div className="ops-detail-grid">
        <section className="card">
          <dl className="data-facts">
            <dt>{t("detail.user")}</dt>
            <dd>
              <Link to={`/users/${encodeURIComponent(instance.userId)}`}>{instance.userId}</Link>
            </dd>
            <dt>{t("detail.journey")}</dt>
            <dd>
              <Link to={`/journeys/${instance.journeyId}`}>{instance.journeyName}</Link>
            </dd>
            <dt>{t("detail.version")}</dt>
            <dd>{t("filters.versionN", { version: instance.version })}</dd>
            <dt>{t("detail.status")}</dt>
            <dd>
              {t(`view.${instance.view}`)}
              {instance.reason ? ` · ${t(`reason.${instance.reason}`, { defaultValue: instance.reason })}` : ""}
              {instance.holdout ? ` · ${t("detail.holdout")}` : ""}
            </dd>
            <dt>{t("detail.entered")}</dt>
            <dd>{when(instance.enteredAt)}</dd>
            {instance.completedAt ? (
              <>
                <dt>{t("detail.finished")}</dt>
                <dd>{when(instance.completedAt)}</dd>
              </>
            ) : null}
            <dt>{t("detail.engine")}</dt>
            <dd>{instance.engine === "temporal" ? t("detail.engineTemporal") : t("detail.engineEmbedded")}</dd>
          </dl>
          {isAdmin ? (
            <div className="row ops-actions">
              {instance.actions.skipWait ? (
                <button type="button" className="primary" disabled={busy} onClick={() => run("skipWait")} data-testid="action-skip">
                  {t("actions.skipWait")}
                </button>
              ) : null}
              {instance.actions.retry ? (
                <button type="button" className="primary" disabled={busy} onClick={() => run("retry")} data-testid="action-retry">
                  {t("actions.retry")}
                </button>
              ) : null}
              {instance.actions.cancel ? (
                <button type="button" className="danger" disabled={busy} onClick={() => run("cancel")} data-testid="action-cancel">
                  {t("actions.cancel")}
                </button>
              ) : null}
            </div>
          ) : (
            <p className="muted">{t("actions.adminOnly")}</p>
          )}
        </section>
        <section className="card" data-testid="current-wait">
          <h2>{t("detail.currentWait")}</h2>
          <CurrentWait instance={instance} />
          {instance.failedStep ? (
            <p className="form-error" data-testid="failed-step">
              <span title={`${instance.failedStep.nodeId} · ${instance.failedStep.reason ?? ""}`}>
                {t("detail.failedStep", { node: names.node(instance.failedStep.nodeId), reason: failure(instance.failedStep.reason) })}
              </span>
              {instance.failedStep.retryable ? null : <span className="muted"> · {t("detail.notRetryable")}</span>}
            </p>
          ) : null}
          <h2 className="ops-subhead">{t("detail.messages")}</h2>
          {instance.messages.length === 0 ? (
            <p className="muted">{t("detail.noMessages")}</p>
          ) : (
            <ul className="data-list">
              {instance.messages.map((m) => (
                <li key={m.id}>
                  <NodeTitle id={m.nodeId} names={instance.nodeNames} /> {t("detail.messageLine", { channel: t(`channel.${m.channel}`, { defaultValue: m.channel }), state: t(`messageState.${m.state}`, { defaultValue: m.state }) })}
                  {m.failureReason ? <span className="muted" title={m.failureReason}> · {failure(m.failureReason)}</span> : null} <span className="muted">{when(m.createdAt)}</span>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
      <section className="card">
        <h2>{t("detail.timeline")}</h2>
        {instance.operatorActions.length > 0 ? (
          <ul className="ops-audit" data-testid="operator-actions">
            {instance.operatorActions.map((a, i) => (
              <li key={`${a.at}-${i}`}>
                <span className="data-timeline-time">{when(a.at)}</span>
                {t(`audit.${a.action.replace("instance.", "")}`, { defaultValue: a.action, by: a.by ?? "—" })}
              </li>
            ))}
          </ul>
        ) : null}
        {instance.timeline.length === 0 ? (
          <p className="muted">{t("detail.noEvents")}</p>
        ) : (
          <ol className="data-timeline ops-timeline" data-testid="timeline">
            {instance.timeline.map((e) => (
              <li key={e.seq} data-kind={e.kind} data-node={e.nodeId ?? ""} data-at={e.at} data-seq={e.seq}>
                <span className="data-timeline-time">{when(e.at)}</span>
                <span className={`ops-kind ops-kind-${e.kind}`} title={[e.nodeId, e.output, e.reason].filter(Boolean).join(" · ") || undefined}>
                  <TimelineText entry={e} names={instance.nodeNames} />
                </span>
              </li>
            ))}
          </ol>
        )}
      </section>
    </div>
  );
}

function CurrentWait({ instance }: { instance: InstanceDetail }) {
  const { t } = useTranslation("ops");
  const when = useTimestamp();
  const names = useNodeNames(instance.nodeNames);
  const wait = instance.wait;
  if (!wait) return <p className="muted">{t("detail.notWaiting")}</p>;
  if (wait.kind === "run") return <p title={wait.nodeId}>{t("detail.running", { node: names.node(wait.nodeId) })}</p>;
  if (wait.kind === "evaluate") return <p title={wait.nodeId}>{t("detail.evaluating", { node: names.node(wait.nodeId) })}</p>;
  return (
    <dl className="data-facts" data-testid="wait-facts">
      <dt>{wait.purpose ? t(`detail.purpose.${wait.purpose}`) : ""}</dt>
      <dd>
        <NodeTitle id={wait.nodeId} names={instance.nodeNames} />
        {wait.attempt ? ` · ${t("detail.attempt", { attempt: wait.attempt })}` : ""}
      </dd>
      <dt>{t("detail.deadline")}</dt>
      <dd data-testid="wait-until">{wait.until ? when(wait.until) : t("detail.waitNoDeadline")}</dd>
      {wait.event ? (
        <>
          <dt>{t("detail.purpose.wait_for_event")}</dt>
          <dd>
            <code>{wait.event}</code>
          </dd>
        </>
      ) : null}
      {wait.awaiting.filter((e) => e !== wait.event).length > 0 ? (
        <>
          <dt>{t("detail.listensTo")}</dt>
          <dd>
            {wait.awaiting
              .filter((e) => e !== wait.event)
              .map((e) => (
                <code key={e} className="ops-event">
                  {e}
                </code>
              ))}
          </dd>
        </>
      ) : null}
    </dl>
  );
}

function TimelineText({ entry: e, names: nodeNames }: { entry: TimelineEntry; names: NodeNames }) {
  const { t } = useTranslation("ops");
  const when = useTimestamp();
  const names = useNodeNames(nodeNames);
  const failure = useFailureReason();
  const node = names.node(e.nodeId);
  const reason = (r: string | null) => (r ? t(`reason.${r}`, { defaultValue: r }) : "");
  const data = e.data ?? {};
  switch (e.kind) {
    case "entered":
      return <>{t("event.entered", { node })}</>;
    case "left":
      return (
        <>
          {names.singlePort(e.nodeId) && e.output !== "failed" ? t("event.leftOnly", { node }) : t("event.left", { node, output: names.port(e.nodeId, e.output) })}
          {e.reason ? <span className="muted"> · {t("event.reason", { reason: failure(e.reason) })}</span> : null}
        </>
      );
    case "message":
      return (
        <>
          {t("event.message", { channel: t(`channel.${e.channel ?? ""}`, { defaultValue: e.channel ?? "" }), status: t(`engine:messageStatus.${e.messageStatus ?? ""}`, { defaultValue: e.messageStatus ?? "" }) })}
          {e.reason ? <span className="muted"> · {t("event.reason", { reason: failure(e.reason) })}</span> : null}
          {typeof data.deferUntil === "number" ? <span className="muted"> · {t("event.deferUntil", { when: when(data.deferUntil) })}</span> : null}
        </>
      );
    case "retry":
      if (e.reason === "operator_retry") return <strong>{t("event.operatorRetry", { node })}</strong>;
      return <>{t("event.retry", { node, attempt: data.attempt ?? "", when: when(typeof data.retryAt === "number" ? data.retryAt : null), reason: failure(e.reason) })}</>;
    case "conversion":
      return <>{t("event.conversion", { event: typeof data.event === "string" ? data.event : "" })}</>;
    case "exit":
      return <strong>{t("event.exit", { reason: reason(e.reason) })}</strong>;
    case "exit_retried":
      return <span className="muted">{t("event.exit_retried", { reason: reason(e.reason) })}</span>;
    case "holdout":
      return <>{t("event.holdout")}</>;
    case "tz_fallback":
      return <>{t("event.tz_fallback", { given: typeof data.given === "string" ? data.given : "—", zone: typeof data.zone === "string" ? data.zone : "" })}</>;
    default:
      return <>{e.kind}</>;
  }
}
