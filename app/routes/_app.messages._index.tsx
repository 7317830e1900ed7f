import type { LinksFunction } from "@remix-run/node";
import { Link, useSearchParams } from "@remix-run/react";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { useDateTime } from "../components/useDateTime";
import { trpc } from "../trpc/client";
import channelStyles from "../channels/channels.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: channelStyles }];

const searchKinds = ["user", "phone", "email", "journey"] as const;
type SearchKind = (typeof searchKinds)[number];
const channelOptions = ["push", "sms", "email"] as const;
const stateOptions = ["queued", "sent", "delivered", "opened", "clicked", "failed"] as const;

/**
 * Email HTML as the user saw it, but inert: no scripts, and a CSP that blocks remote images so
 * support opening a message never fires its open pixel or leaks the reader to a third party.
 */
function EmailPreview({ html }: { html: string }) {
  const { t } = useTranslation("channels");
  const doc = `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'"><base target="_blank"><style>body{font-family:system-ui,sans-serif;font-size:14px;margin:12px;color:#1d2433}</style></head><body>${html}</body></html>`;
  return <iframe className="msg-email" title={t("messages.emailPreview")} sandbox="" srcDoc={doc} />;
}

type Message = {
  id: string;
  userId: string;
  journeyId: string | null;
  journeyName: string | null;
  nodeId: string | null;
  nodeLabel: { en: string; zh: string } | null;
  deferUntil: string | null;
  channel: string;
  category: string;
  provider: string | null;
  address: string | null;
  content: Record<string, unknown>;
  truncations: unknown[] | null;
  state: string;
  failureReason: string | null;
  failureStage: string | null;
  failureDetail: string | null;
  providerCode: string | null;
  createdAt: string;
  history: { state: string; reason: string | null; detail: Record<string, unknown> | null; at: string }[];
};

const s = (v: unknown) => (typeof v === "string" ? v : "");

function Copy({ m }: { m: Message }) {
  const { t } = useTranslation("channels");
  const c = m.content;
  if (m.channel === "push") {
    return (
      <div className="msg-push" data-testid="copy">
        <strong>{s(c.title)}</strong>
        <span>{s(c.body)}</span>
        {s(c.deepLink) ? <code>{s(c.deepLink)}</code> : null}
      </div>
    );
  }
  if (m.channel === "sms") {
    const params = (c.templateParams ?? {}) as Record<string, string>;
    return (
      <div className="msg-sms" data-testid="copy">
        {s(c.body) ? (
          <p>
            {s(c.signName) ? `【${s(c.signName)}】` : ""}
            {s(c.body)}
          </p>
        ) : null}
        <p className="muted">
          {s(c.signName) ? `${t("messages.signName")}: ${s(c.signName)} · ` : ""}
          {s(c.templateCode) ? `${t("messages.template")}: ${s(c.templateCode)}` : ""}
          {Object.keys(params).length ? ` · ${Object.entries(params).map(([k, v]) => `${k}=${v}`).join(", ")}` : ""}
        </p>
      </div>
    );
  }
  return (
    <div className="msg-mail" data-testid="copy">
      <p>
        <span className="muted">{t("messages.subject")}:</span> <strong>{s(c.subject)}</strong>
      </p>
      {s(c.html) ? <EmailPreview html={s(c.html)} /> : <pre className="msg-text">{s(c.text)}</pre>}
    </div>
  );
}

function MessageCard({ m }: { m: Message }) {
  const { t, i18n } = useTranslation("channels");
  const time = useDateTime({ seconds: true });
  const lang = i18n.language === "zh" ? "zh" : "en";
  const empty = Object.values(m.content).every((v) => v === null || v === undefined || v === "" || (typeof v === "object" && Object.keys(v).length === 0));
  return (
    <article className="card msg-card" data-testid="message" data-message-id={m.id}>
      <header className="msg-head">
        <span className={`msg-channel msg-channel-${m.channel}`}>{t(`channel.${m.channel}`)}</span>
        <span className={`data-state data-state-${m.state}`} data-testid="message-state">
          {t(`state.${m.state}`)}
        </span>
        <span className="muted">{t(`category.${m.category}`)}</span>
        <span className="muted">{time(m.createdAt)}</span>
        <span className="msg-push-right muted">
          {m.userId === "$test" ? t("messages.testUser") : <Link to={`/users/${encodeURIComponent(m.userId)}`}>{m.userId}</Link>}
          {m.journeyId ? (
            <>
              {" · "}
              <Link to={`/journeys/${m.journeyId}`}>{m.journeyName ?? m.journeyId}</Link>
              {m.nodeId ? (
                <span className="muted ops-node" title={m.nodeId} data-node-id={m.nodeId}>
                  {" "}
                  / {m.nodeLabel?.[lang] ?? m.nodeId}
                </span>
              ) : null}
            </>
          ) : null}
        </span>
      </header>
      <div className="msg-body">
        <div className="msg-copy">
          {empty ? (
            // A message stopped before its copy was written (no address, no consent…) still says what happened.
            <p className="muted msg-nocopy" data-testid="copy">
              {t(`messages.noCopy.${m.state === "failed" ? "failed" : "pending"}`)}
            </p>
          ) : (
            <Copy m={m} />
          )}
          {m.deferUntil && (m.state === "queued" || m.state === "deferred") ? (
            <p className="msg-deferred" data-testid="defer-until">
              {t("messages.scheduledFor", { when: time(m.deferUntil) })}
            </p>
          ) : null}
          <p className="muted msg-meta">
            {m.address ? (
              <>
                {t("messages.to")}: <code>{m.address.length > 48 ? `${m.address.slice(0, 24)}…${m.address.slice(-12)}` : m.address}</code>
              </>
            ) : null}
            {m.provider ? ` · ${t(`provider.${m.provider}`, { defaultValue: m.provider })}` : null}
          </p>
          {m.failureReason ? (
            <div className="msg-failure" role="note" data-testid="failure">
              <strong>{t("messages.failureReason")}:</strong> {t(`reason.${m.failureReason}`)}
              {m.failureStage ? <span className="muted"> · {t(`stage.${m.failureStage}`)}</span> : null}
              {m.providerCode ? (
                <>
                  {" · "}
                  <code>{m.providerCode}</code>
                </>
              ) : null}
              {m.failureDetail ? <div className="muted msg-detail">{m.failureDetail}</div> : null}
            </div>
          ) : null}
        </div>
        <ol className="msg-timeline" aria-label={t("messages.history")} data-testid="history">
          {m.history.map((h, i) => (
            <li key={i} className={`msg-step msg-step-${h.state}`}>
              <span className="msg-dot" aria-hidden />
              <span className="msg-step-state">{t(`state.${h.state}`, { defaultValue: h.state })}</span>
              <time className="muted" dateTime={h.at}>
                {time(h.at)}
              </time>
              {h.reason ? <span className="muted msg-step-reason">{t(`reason.${h.reason}`, { defaultValue: t(`deferred.${h.reason}`, { defaultValue: h.reason }) })}</span> : null}
            </li>
          ))}
        </ol>
      </div>
    </article>
  );
}

export default function MessagesPage() {
  const { t } = useTranslation("channels");
  const [params, setParams] = useSearchParams();
  const by = (searchKinds as readonly string[]).includes(params.get("by") ?? "") ? (params.get("by") as SearchKind) : "user";
  const q = params.get("q") ?? "";
  const channel = (channelOptions as readonly string[]).includes(params.get("channel") ?? "") ? (params.get("channel") as (typeof channelOptions)[number]) : undefined;
  const state = (stateOptions as readonly string[]).includes(params.get("state") ?? "") ? (params.get("state") as (typeof stateOptions)[number]) : undefined;
  const [draft, setDraft] = useState({ by, q, channel: channel ?? "", state: state ?? "" });
  useEffect(() => setDraft({ by, q, channel: channel ?? "", state: state ?? "" }), [by, q, channel, state]);
  const search = trpc.channels.messages.useQuery({ by, q, channel, state, limit: 100 }, { enabled: q.trim().length > 0 });
  const exportHref = `/messages/export.csv?${new URLSearchParams({ by, q, ...(channel ? { channel } : {}), ...(state ? { state } : {}) })}`;
  return (
    <>
      <div className="data-header">
        <h1>{t("messages.title")}</h1>
      </div>
      <form
        className="row msg-search card"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          const next = new URLSearchParams({ by: draft.by, q: draft.q.trim() });
          if (draft.channel) next.set("channel", draft.channel);
          if (draft.state) next.set("state", draft.state);
          setParams(next);
        }}
      >
        <label>
          {t("messages.searchBy")}
          <select name="by" value={draft.by} onChange={(e) => setDraft({ ...draft, by: e.target.value as SearchKind })}>
            {searchKinds.map((k) => (
              <option key={k} value={k}>
                {t(`messages.by.${k}`)}
              </option>
            ))}
          </select>
        </label>
        <label className="data-grow">
          {t("messages.query")}
          <input name="q" value={draft.q} placeholder={t(`messages.placeholder.${draft.by}`)} onChange={(e) => setDraft({ ...draft, q: e.target.value })} />
        </label>
        <label>
          {t("messages.channel")}
          <select name="channel" value={draft.channel} onChange={(e) => setDraft({ ...draft, channel: e.target.value })}>
            <option value="">{t("messages.all")}</option>
            {channelOptions.map((c) => (
              <option key={c} value={c}>
                {t(`channel.${c}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("messages.state")}
          <select name="state" value={draft.state} onChange={(e) => setDraft({ ...draft, state: e.target.value })}>
            <option value="">{t("messages.all")}</option>
            {stateOptions.map((c) => (
              <option key={c} value={c}>
                {t(`state.${c}`)}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary">
          {t("messages.search")}
        </button>
      </form>
      {!q ? <p className="muted msg-hint">{t("messages.hint")}</p> : null}
      {search.error ? (
        <p className="form-error" role="alert">
          {search.error.message}
        </p>
      ) : null}
      {search.data ? (
        <>
          <div className="data-header">
            <span data-testid="message-count">{t("messages.count", { count: search.data.length })}</span>
            {search.data.length > 0 ? (
              <a className="data-link-button data-push-right" href={exportHref} download>
                {t("messages.exportCsv")}
              </a>
            ) : null}
          </div>
          {search.data.length === 0 ? <p className="muted">{t("messages.none")}</p> : null}
          {search.data.map((m) => (
            <MessageCard key={m.id} m={m as Message} />
          ))}
        </>
      ) : null}
    </>
  );
}
