import type { LoaderFunctionArgs } from "@remix-run/node";
import { json } from "@remix-run/node";
import { Link, useLoaderData, useNavigate } from "@remix-run/react";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { roleMay } from "../lib/permissions";
import { requireSession } from "../lib/session.server";
import { useFailureReason } from "../ops/names";
import { trpc } from "../trpc/client";
import { useDateTime } from "../users/format";
import { getProfile, userEvents, type TimelineEvent } from "../users/profiles.server";

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const session = await requireSession(request, context);
  const userId = params.userId ?? "";
  const profile = await getProfile(context.services.db, session.workspaceId, userId);
  if (!profile) throw new Response("Not found", { status: 404 });
  const events = await userEvents(context.services.db, session.workspaceId, userId, { limit: 50 });
  return json({ profile, events, canErase: roleMay(session.role, "users.erase") });
}

const channels = ["push", "sms", "email"] as const;

export default function UserProfilePage() {
  const { profile, events, canErase } = useLoaderData<typeof loader>();
  const { t } = useTranslation("data");
  const when = useDateTime();
  const navigate = useNavigate();
  const erase = trpc.users.erase.useMutation({ onSuccess: () => navigate("/users") });
  const consent = profile.consent as Record<string, { marketing?: boolean; transactional?: boolean } | undefined>;
  const flag = (value: boolean | undefined) => (value === undefined ? t("profile.consentUnset") : value ? t("profile.yes") : t("profile.no"));
  const traits = Object.entries(profile.traits as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b));

  return (
    <div className="data-profile" data-testid="user-profile">
      <Link to="/users">{t("profile.back")}</Link>
      <div className="data-header">
        <h1>{profile.id}</h1>
        {typeof (profile.traits as Record<string, unknown>).name === "string" ? (
          <span className="muted">{String((profile.traits as Record<string, unknown>).name)}</span>
        ) : null}
        {canErase ? (
          <button
            type="button"
            className="danger data-push-right"
            disabled={erase.isPending}
            onClick={() => {
              if (window.confirm(t("profile.eraseConfirm", { id: profile.id }))) erase.mutate({ userId: profile.id });
            }}
          >
            {t("profile.erase")}
          </button>
        ) : null}
      </div>
      {erase.error ? <p className="form-error">{erase.error.message}</p> : null}
      <div className="data-profile-grid">
        <section className="card">
          <dl className="data-facts">
            <dt>{t("users.columns.email")}</dt>
            <dd>{profile.email ?? "—"}</dd>
            <dt>{t("users.columns.phone")}</dt>
            <dd>{profile.phone ?? "—"}</dd>
            <dt>{t("profile.timezone")}</dt>
            <dd>{profile.timezone ?? "—"}</dd>
            <dt>{t("profile.firstSeen")}</dt>
            <dd>{when(profile.firstSeenAt)}</dd>
            <dt>{t("profile.lastSeen")}</dt>
            <dd>{when(profile.lastSeenAt)}</dd>
            {profile.anonymousId ? (
              <>
                <dt>{t("profile.anonymous")}</dt>
                <dd>
                  <code>{profile.anonymousId}</code>
                </dd>
              </>
            ) : null}
            <dt>{t("users.columns.tags")}</dt>
            <dd>
              {profile.tags.length
                ? profile.tags.map((tag) => (
                    <span key={tag} className="data-tag">
                      {tag}
                    </span>
                  ))
                : "—"}
            </dd>
          </dl>
          <h2>{t("profile.consent")}</h2>
          <table className="table data-table">
            <thead>
              <tr>
                <th />
                <th>{t("profile.consentMarketing")}</th>
                <th>{t("profile.consentTransactional")}</th>
              </tr>
            </thead>
            <tbody>
              {channels.map((c) => (
                <tr key={c}>
                  <td>{t(`builder.channels.${c}`)}</td>
                  <td>{flag(consent[c]?.marketing)}</td>
                  <td>{flag(consent[c]?.transactional)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {profile.deviceTokens.length ? (
            <>
              <h2>{t("profile.deviceTokens")}</h2>
              <ul className="data-list">
                {profile.deviceTokens.map((d) => (
                  <li key={d.token}>
                    <code>{d.token}</code> · {d.platform} · {when(d.lastSeenAt)}
                    {d.retiredAt ? <span className="danger"> · {t("profile.retired", { reason: d.retiredReason ?? "" })}</span> : null}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </section>
        <section className="card">
          <h2>{t("profile.traits")}</h2>
          <table className="table data-table" data-testid="user-traits">
            <tbody>
              {traits.map(([key, value]) => (
                <tr key={key}>
                  <th>{key}</th>
                  <td>
                    <code>{typeof value === "string" ? value : JSON.stringify(value)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
      <section className="card" data-testid="user-segments">
        <h2>{t("profile.segments")}</h2>
        {profile.segments.length === 0 ? (
          <p className="muted">{t("profile.noSegments")}</p>
        ) : (
          <ul className="data-list">
            {profile.segments.map((s) => (
              <li key={s.id}>
                <Link to={`/segments/${s.id}`}>{s.name}</Link> <span className="muted">· {when(s.enteredAt)}</span>
              </li>
            ))}
          </ul>
        )}
      </section>
      <Journeys userId={profile.id} />
      <Messages userId={profile.id} />
      <Timeline userId={profile.id} first={events} />
    </div>
  );
}

function Journeys({ userId }: { userId: string }) {
  const { t, i18n } = useTranslation("data");
  const when = useDateTime();
  const journeys = trpc.users.journeys.useQuery({ userId });
  return (
    <section className="card" data-testid="user-journeys">
      <h2>{t("profile.journeys")}</h2>
      {journeys.data && journeys.data.length === 0 ? <p className="muted">{t("profile.noJourneys")}</p> : null}
      {journeys.data && journeys.data.length > 0 ? (
        <table className="table data-table">
          <thead>
            <tr>
              <th>{t("profile.columns.journey")}</th>
              <th>{t("profile.columns.version")}</th>
              <th>{t("profile.columns.status")}</th>
              <th>{t("profile.columns.node")}</th>
              <th>{t("profile.columns.entered")}</th>
              <th>{t("profile.columns.completed")}</th>
            </tr>
          </thead>
          <tbody>
            {journeys.data.map((j) => (
              <tr key={j.instanceId}>
                <td>
                  <Link to={`/journeys/${j.journeyId}`}>{j.journeyName ?? j.journeyId}</Link>
                </td>
                <td>{j.version ?? "—"}</td>
                <td>
                  {t(`profile.instanceStatus.${j.status === "active" ? "active" : "completed"}`)}
                  {j.reason ? (
                    <span className="muted" title={j.reason}>
                      {" "}
                      · {t(`ops:reason.${j.reason}`, { defaultValue: j.reason })}
                    </span>
                  ) : null}
                </td>
                <td>
                  {j.nodeId ? (
                    <Link to={`/instances/${j.instanceId}`} className="ops-node" title={j.nodeId} data-node-id={j.nodeId}>
                      {j.nodeLabel?.[i18n.language === "zh" ? "zh" : "en"] ?? j.nodeId}
                    </Link>
                  ) : (
                    "—"
                  )}
                </td>
                <td>{when(j.enteredAt)}</td>
                <td>{when(j.completedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function Messages({ userId }: { userId: string }) {
  const { t } = useTranslation("data");
  const when = useDateTime();
  const failure = useFailureReason();
  const messages = trpc.users.messages.useQuery({ userId });
  return (
    <section className="card" data-testid="user-messages">
      <h2>{t("profile.messages")}</h2>
      <Link to={`/messages?by=user&q=${encodeURIComponent(userId)}`} data-testid="user-messages-link">{t("channels:messages.openLog")}</Link>
      {messages.data && messages.data.length === 0 ? <p className="muted">{t("profile.noMessages")}</p> : null}
      {messages.data && messages.data.length > 0 ? (
        <table className="table data-table">
          <thead>
            <tr>
              <th>{t("profile.columns.sent")}</th>
              <th>{t("profile.columns.channel")}</th>
              <th>{t("profile.columns.content")}</th>
              <th>{t("profile.columns.state")}</th>
              <th>{t("profile.columns.reason")}</th>
              <th>{t("profile.columns.journey")}</th>
            </tr>
          </thead>
          <tbody>
            {messages.data.map((m) => (
              <tr key={m.id}>
                <td>{when(m.sentAt ?? m.createdAt)}</td>
                <td>{t(`builder.channels.${m.channel as "push"}`, { defaultValue: m.channel })}</td>
                <td>
                  {m.title ? <strong>{m.title} </strong> : null}
                  <span className="muted">{m.body}</span>
                </td>
                <td>
                  <span className={`data-state data-state-${m.state}`}>{t(`builder.states.${m.state as "sent"}`, { defaultValue: m.state })}</span>
                </td>
                <td title={m.failureReason ?? undefined}>{m.failureReason ? failure(m.failureReason) : "—"}</td>
                <td>{m.journeyName ?? m.journeyId ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function Timeline({ userId, first }: { userId: string; first: TimelineEvent[] }) {
  const { t } = useTranslation("data");
  const when = useDateTime();
  const utils = trpc.useUtils();
  const [name, setName] = useState("");
  const [filtered, setFiltered] = useState<TimelineEvent[] | null>(null);
  const [older, setOlder] = useState<TimelineEvent[]>([]);
  const [done, setDone] = useState(first.length < 50);
  const base = filtered ?? first;
  const rows = [...base, ...older];

  const applyFilter = async (value: string) => {
    setName(value);
    setOlder([]);
    if (!value.trim()) {
      setFiltered(null);
      setDone(first.length < 50);
      return;
    }
    const page = await utils.users.events.fetch({ userId, name: value.trim(), limit: 50 });
    setFiltered(page);
    setDone(page.length < 50);
  };
  const loadOlder = async () => {
    const last = rows.at(-1);
    if (!last) return;
    const page = await utils.users.events.fetch({ userId, name: name.trim() || undefined, before: { timestamp: last.timestamp, id: last.id }, limit: 50 });
    setOlder((o) => [...o, ...page]);
    if (page.length < 50) setDone(true);
  };

  return (
    <section className="card" data-testid="user-events">
      <div className="data-header">
        <h2>{t("profile.events")}</h2>
        <input
          className="data-push-right"
          placeholder={t("profile.filterEvents")}
          aria-label={t("profile.filterEvents")}
          value={name}
          onChange={(e) => void applyFilter(e.target.value)}
        />
      </div>
      {rows.length === 0 ? <p className="muted">{t("profile.noEvents")}</p> : null}
      <ol className="data-timeline">
        {rows.map((e) => (
          <li key={e.id}>
            <span className="data-timeline-time">{when(e.timestamp)}</span>
            <strong>{e.name}</strong>
            {Object.keys(e.properties).length ? <code className="data-timeline-props">{JSON.stringify(e.properties)}</code> : null}
          </li>
        ))}
      </ol>
      {!done && rows.length > 0 ? (
        <button type="button" onClick={() => void loadOlder()} className="data-more">
          {t("profile.loadOlder")}
        </button>
      ) : null}
    </section>
  );
}
