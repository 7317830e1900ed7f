import { useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { getNodeDefinition } from "../../nodes/registry";
import type { TriggerConfig } from "../../nodes/trigger/definition";
import { API_TRIGGER_EVENT, SEGMENT_ENTERED_EVENT, SEGMENT_EXITED_EVENT } from "../../nodes/trigger/match";
import type { UserSnapshot } from "../../nodes/runtime";
import { simulate, SimulationError, type SimUser, type TimelineEntry, type Trace, type UserTrace } from "../../workflows/simulate";
import { isValidZone } from "../../workflows/time";
import { useCanvas, useCanvasStore } from "./context";
import { DraftInput, DraftTextarea, parseNumber } from "./inspector/inputs";
import { EVENTS_DATALIST, TimezoneSelect } from "./inspector/widgets";
import { useLocale } from "./locale";
import { portsOfNode } from "./model";
import { SAMPLE_USER, useSampleUsers, userLabel } from "./sampleUsers";
import type { Highlight } from "./store";
import type { PolicySettings } from "../../nodes/channels/policies/settings";
import { trpc } from "../trpc/client";

/**
 * Test run: one user (real or described) or many (real users by id, a segment sample, or a table
 * of made-up users), a timeline of events each of them sends, the simulator on a virtual clock
 * with the workspace's sending policies (the engine's own decision: consent, quiet hours in the
 * user's zone, frequency caps, length), and the path drawn on the canvas with every message as it
 * would be sent, held or refused, and why. Nothing is sent and nothing is stored.
 */

type Unit = "minutes" | "hours" | "days";
const unitMs: Record<Unit, number> = { minutes: 60_000, hours: 3_600_000, days: 86_400_000 };

interface TimelineRow {
  amount: number | undefined;
  unit: Unit;
  event: string;
  properties: string;
}

interface Described {
  id: string;
  name: string;
  timezone: string | undefined;
  traits: string;
  segments: string;
  /** Channels on which the user agreed to marketing (the policies ask for it on opt-in channels). */
  consent: Record<"push" | "sms" | "email", boolean>;
}

/** The event that makes this user enter, for the first timeline row. */
function entryEvent(trigger: TriggerConfig | undefined): { event: string; properties: Record<string, unknown> } | null {
  if (!trigger) return null;
  switch (trigger.source) {
    case "event": {
      const properties = Object.fromEntries(trigger.filters.filter((f) => f.op === "eq" && f.value !== undefined).map((f) => [f.property, f.value]));
      return { event: trigger.event, properties };
    }
    case "segment_entry":
      return { event: SEGMENT_ENTERED_EVENT, properties: { segment: trigger.segment } };
    case "segment_exit":
      return { event: SEGMENT_EXITED_EVENT, properties: { segment: trigger.segment } };
    case "api":
      return { event: API_TRIGGER_EVENT, properties: {} };
    case "schedule":
      return null;
  }
}

/** "key=value" lines; numbers and booleans are recognised so trait rules compare correctly. */
function parseTraits(text: string): Record<string, unknown> {
  const traits: Record<string, unknown> = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at <= 0) continue;
    const key = line.slice(0, at).trim();
    const raw = line.slice(at + 1).trim();
    traits[key] = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw === "true" || raw === "false" ? raw === "true" : raw;
  }
  return traits;
}

function localInputValue(ms: number): string {
  const d = new Date(ms);
  return new Date(ms - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

function highlightFor(trace: UserTrace | undefined, edges: ReadonlyArray<{ id: string; source: string; sourceHandle?: string | null }>): Highlight | null {
  const instance = trace?.instances[0];
  if (!instance) return null;
  const order: Record<string, number> = {};
  const taken: Record<string, true> = {};
  instance.steps.forEach((step) => {
    order[step.nodeId] ??= Object.keys(order).length + 1;
    const edge = step.output ? edges.find((e) => e.source === step.nodeId && e.sourceHandle === step.output) : undefined;
    if (edge) taken[edge.id] = true;
  });
  return { order, edges: taken, ...(instance.waiting ? { waitingAt: instance.waiting.nodeId } : {}) };
}

/** Many users: every node and wire anyone took, with how many users reached each node. */
function highlightForAll(trace: Trace, edges: ReadonlyArray<{ id: string; source: string; sourceHandle?: string | null }>): Highlight | null {
  const counts: Record<string, number> = {};
  const taken: Record<string, true> = {};
  for (const user of trace.users) {
    for (const instance of user.instances) {
      for (const step of instance.steps) {
        counts[step.nodeId] = (counts[step.nodeId] ?? 0) + 1;
        const edge = step.output ? edges.find((e) => e.source === step.nodeId && e.sourceHandle === step.output) : undefined;
        if (edge) taken[edge.id] = true;
      }
    }
  }
  return Object.keys(counts).length ? { order: counts, edges: taken, counts: true } : null;
}

/** "id, zone, key=value; key=value" per line: made-up users for a many-user run. */
function parseUserTable(text: string): SimUser[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [id, zone, ...rest] = line.split(",").map((c) => c.trim());
      return { id: id!, timezone: zone || null, traits: parseTraits(rest.join(",").split(";").join("\n")) };
    });
}

const FAILURE_REASONS = ["quiet_hours", "no_consent", "unsubscribed", "frequency_capped", "missing_address", "invalid_address", "too_long", "template_error"];

export function TestRunPanel({ workspaceTimezone, policies }: { workspaceTimezone: string; policies?: PolicySettings }) {
  const utils = trpc.useUtils();
  const { t } = useTranslation("canvas");
  const locale = useLocale();
  const store = useCanvasStore();
  const samples = useSampleUsers();
  const problemCount = useCanvas((s) => s.problemList.length);
  const trigger = useCanvas((s) => {
    const node = s.nodes.find((n) => getNodeDefinition(n.data.nodeType)?.kind === "trigger");
    return node?.data.config as TriggerConfig | undefined;
  });
  const entry = entryEvent(trigger);

  const [who, setWho] = useState<"existing" | "described" | "many">("described");
  const [many, setMany] = useState<{ source: "ids" | "segment" | "table"; ids: string; segment: string; limit: number | undefined; table: string }>({
    source: "table",
    ids: "",
    segment: "",
    limit: 20,
    table: "u-shanghai, Asia/Shanghai, city=上海\nu-berlin, Europe/Berlin, city=Berlin",
  });
  const [running, setRunning] = useState(false);
  const [existingId, setExistingId] = useState(samples.current.id);
  const [described, setDescribed] = useState<Described>({
    id: "test-user",
    name: "小王",
    timezone: "Asia/Shanghai",
    traits: "city=上海",
    segments: "",
    consent: { push: true, sms: true, email: true },
  });
  const [start, setStart] = useState(() => localInputValue(Math.floor(Date.now() / 60_000) * 60_000));
  const [rows, setRows] = useState<TimelineRow[]>(() => (entry ? [{ amount: 0, unit: "minutes", event: entry.event, properties: JSON.stringify(entry.properties) }] : []));
  const resultsRef = useRef<HTMLElement>(null);
  const [result, setResult] = useState<{ trace: Trace; user: SimUser; many: boolean; missing: string[] } | { error: string } | null>(null);

  const user: SimUser = useMemo(() => {
    if (who === "existing") {
      const found: UserSnapshot = samples.users.find((u) => u.id === existingId) ?? samples.current;
      return { id: found.id, traits: found.traits, timezone: found.timezone ?? null };
    }
    const segments = described.segments.split(",").map((s) => s.trim()).filter(Boolean);
    return {
      id: described.id.trim() || "test-user",
      traits: { ...parseTraits(described.traits), ...(described.name ? { name: described.name } : {}) },
      timezone: described.timezone ?? null,
      segments,
      consent: Object.fromEntries(Object.entries(described.consent).map(([channel, agreed]) => [channel, { marketing: agreed }])),
    };
  }, [who, existingId, described, samples]);

  /** The users to simulate; real ones come with their consent and reachable channels. */
  const usersToRun = async (): Promise<{ users: SimUser[]; missing: string[] }> => {
    if (who === "described") return { users: [user], missing: [] };
    if (who === "existing") {
      // The built-in sample is not in the database: it runs as shown, reachable everywhere.
      if (user.id === SAMPLE_USER.id) return { users: [user], missing: [] };
      const found = await utils.journeys.testRunUsers.fetch({ ids: [user.id] });
      return found.users.length ? found : { users: [user], missing: [] };
    }
    if (many.source === "table") return { users: parseUserTable(many.table), missing: [] };
    if (many.source === "segment") return utils.journeys.testRunUsers.fetch({ segment: many.segment.trim(), limit: many.limit ?? 20 });
    const ids = [...new Set(many.ids.split(/[\s,]+/).map((id) => id.trim()).filter(Boolean))];
    return utils.journeys.testRunUsers.fetch({ ids });
  };

  const run = async () => {
    const startMs = new Date(start).getTime();
    setRunning(true);
    try {
      const picked = await usersToRun();
      if (picked.users.length === 0) throw new SimulationError(t("testRun.noUsers"));
      const timeline: TimelineEntry[] = [];
      for (const r of rows.filter((row) => row.event.trim() !== "")) {
        let properties: Record<string, unknown> = {};
        if (r.properties.trim() !== "") {
          try {
            properties = JSON.parse(r.properties);
          } catch {
            throw new SimulationError(t("testRun.badProperties", { event: r.event }));
          }
        }
        // Every user sends the timeline's events.
        for (const u of picked.users) timeline.push({ at: startMs + (r.amount ?? 0) * unitMs[r.unit], userId: u.id, event: { name: r.event.trim(), properties } });
      }
      const trace = simulate({ document: store.getState().document(), users: picked.users, timeline, start: startMs, workspaceTimezone, ...(policies ? { policies } : {}) });
      const first = picked.users[0]!;
      setResult({ trace, user: first, many: who === "many", missing: picked.missing });
      requestAnimationFrame(() => resultsRef.current?.scrollIntoView({ block: "start", behavior: "smooth" }));
      store.getState().setHighlight(who === "many" ? highlightForAll(trace, store.getState().edges) : highlightFor(trace.users.find((u) => u.userId === first.id), store.getState().edges));
    } catch (error) {
      setResult({ error: error instanceof SimulationError && error.errors.length ? t("testRun.doesNotCompile", { count: error.errors.length }) : error instanceof Error ? error.message : String(error) });
      store.getState().setHighlight(null);
    } finally {
      setRunning(false);
    }
  };

  const clear = () => {
    setResult(null);
    store.getState().setHighlight(null);
  };

  const zone = isValidZone(user.timezone) ? user.timezone : workspaceTimezone;
  const when = (iso: string) =>
    new Intl.DateTimeFormat(locale === "zh" ? "zh-CN" : "en-GB", { month: "short", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit", timeZone: zone }).format(new Date(iso));
  const after = (iso: string) => {
    const ms = new Date(iso).getTime() - new Date(start).getTime();
    const hours = Math.floor(ms / 3_600_000);
    const minutes = Math.round((ms % 3_600_000) / 60_000);
    return hours >= 48 ? t("testRun.afterDays", { days: Math.round((hours / 24) * 10) / 10 }) : t("testRun.afterHours", { hours, minutes });
  };
  const nodeName = (nodeId: string) => {
    const node = store.getState().nodes.find((n) => n.id === nodeId);
    const def = node ? getNodeDefinition(node.data.nodeType) : undefined;
    return node?.data.label ?? def?.label[locale] ?? nodeId;
  };
  const portName = (nodeId: string, port: string) => {
    const node = store.getState().nodes.find((n) => n.id === nodeId);
    return (node && portsOfNode(node).find((p) => p.id === port)?.label[locale]) ?? port;
  };

  const userTrace = result && "trace" in result && !result.many ? result.trace.users.find((u) => u.userId === result.user.id) : undefined;
  const manyTrace = result && "trace" in result && result.many ? result : undefined;
  const reasonText = (code: string) => (FAILURE_REASONS.includes(code) ? t(`testRun.failure.${code}`) : code);

  return (
    <div className="ins-panel wp-testrun" data-testid="test-run">
      <header className="ins-header">
        <div>
          <h2>{t("testRun.title")}</h2>
          <p className="muted">{t("testRun.intro")}</p>
        </div>
      </header>

      <fieldset className="ins-group">
        <legend>{t("testRun.who")}</legend>
        <div className="wp-segmented" role="radiogroup" aria-label={t("testRun.who")}>
          <label>
            <input type="radio" name="who" checked={who === "described"} onChange={() => setWho("described")} /> {t("testRun.describe")}
          </label>
          <label>
            <input type="radio" name="who" checked={who === "existing"} onChange={() => setWho("existing")} /> {t("testRun.existing")}
          </label>
          <label>
            <input type="radio" name="who" checked={who === "many"} onChange={() => setWho("many")} data-testid="testrun-many" /> {t("testRun.many")}
          </label>
        </div>
        {who === "many" ? (
          <>
            <label className="ins-field">
              {t("testRun.manySource")}
              <select value={many.source} onChange={(e) => setMany({ ...many, source: e.target.value as typeof many.source })} data-testid="testrun-many-source">
                <option value="table">{t("testRun.manyTable")}</option>
                <option value="ids">{t("testRun.manyIds")}</option>
                <option value="segment">{t("testRun.manySegment")}</option>
              </select>
            </label>
            {many.source === "table" ? (
              <label className="ins-field">
                {t("testRun.tableHelp")}
                <DraftTextarea rows={4} className="mono" value={many.table} onValue={(v) => setMany({ ...many, table: String(v) })} data-testid="testrun-table" />
              </label>
            ) : many.source === "ids" ? (
              <label className="ins-field">
                {t("testRun.idsHelp")}
                <DraftTextarea rows={3} className="mono" value={many.ids} onValue={(v) => setMany({ ...many, ids: String(v) })} data-testid="testrun-ids" />
              </label>
            ) : (
              <div className="ins-inline">
                <label className="ins-field">
                  {t("testRun.segmentKey")}
                  <input value={many.segment} onChange={(e) => setMany({ ...many, segment: e.target.value })} data-testid="testrun-segment" />
                </label>
                <label className="ins-field">
                  {t("testRun.sampleSize")}
                  <DraftInput className="num" type="number" min={1} max={200} value={many.limit} parse={parseNumber} onValue={(n) => setMany({ ...many, limit: n as number | undefined })} />
                </label>
              </div>
            )}
          </>
        ) : null}
        {who === "many" ? null : who === "existing" ? (
          <label className="ins-field">
            {t("testRun.user")}
            <select value={existingId} onChange={(e) => setExistingId(e.target.value)} data-testid="testrun-user">
              {samples.users.map((u) => (
                <option key={u.id} value={u.id}>
                  {userLabel(u)}
                </option>
              ))}
            </select>
          </label>
        ) : (
          <>
            <div className="ins-inline">
              <label className="ins-field">
                {t("testRun.userId")}
                <input value={described.id} onChange={(e) => setDescribed({ ...described, id: e.target.value })} />
              </label>
              <label className="ins-field">
                {t("fields.name")}
                <input value={described.name} onChange={(e) => setDescribed({ ...described, name: e.target.value })} data-testid="testrun-name" />
              </label>
            </div>
            <label className="ins-field">
              {t("testRun.timezone")}
              <TimezoneSelect value={described.timezone} onChange={(timezone) => setDescribed({ ...described, timezone })} emptyLabel={t("testRun.noZone")} />
            </label>
            <fieldset className="ins-field wp-consent">
              <legend>{t("testRun.consent")}</legend>
              {(["push", "sms", "email"] as const).map((channel) => (
                <label key={channel}>
                  <input
                    type="checkbox"
                    checked={described.consent[channel]}
                    onChange={(e) => setDescribed({ ...described, consent: { ...described.consent, [channel]: e.target.checked } })}
                    data-testid={`testrun-consent-${channel}`}
                  />{" "}
                  {t(`testRun.channel.${channel}`)}
                </label>
              ))}
            </fieldset>
            <label className="ins-field">
              {t("testRun.traits")}
              <DraftTextarea rows={2} className="mono" value={described.traits} onValue={(v) => setDescribed({ ...described, traits: String(v) })} />
            </label>
            {trigger?.source === "schedule" ? (
              <label className="ins-field">
                {t("testRun.segments")}
                <input value={described.segments} onChange={(e) => setDescribed({ ...described, segments: e.target.value })} />
              </label>
            ) : null}
          </>
        )}
      </fieldset>

      <fieldset className="ins-group">
        <legend>{t("testRun.timeline")}</legend>
        <label className="ins-field">
          {t("testRun.start")}
          <input type="datetime-local" value={start} onChange={(e) => setStart(e.target.value)} data-testid="testrun-start" />
        </label>
        {rows.map((row, i) => (
          <div key={i} className="wp-timeline-row" data-testid={`timeline-row-${i}`}>
            <span className="muted">+</span>
            <DraftInput className="num" type="number" min={0} aria-label={t("testRun.after")} value={row.amount} parse={parseNumber} onValue={(amount) => setRows(rows.map((r, j) => (j === i ? { ...r, amount: amount as number | undefined } : r)))} />
            <select aria-label={t("fields.unit")} value={row.unit} onChange={(e) => setRows(rows.map((r, j) => (j === i ? { ...r, unit: e.target.value as Unit } : r)))}>
              {(["minutes", "hours", "days"] as const).map((u) => (
                <option key={u} value={u}>
                  {t(`options.unit.${u}`)}
                </option>
              ))}
            </select>
            <span className="wp-timeline-at">{t("testRun.afterStart")}</span>
            <button type="button" className="icon danger" aria-label={t("inspector.remove", { item: row.event || t("inspector.item", { n: i + 1 }) })} onClick={() => setRows(rows.filter((_, j) => j !== i))}>
              ×
            </button>
            <input className="wp-timeline-event" aria-label={t("fields.event")} placeholder={t("fields.event")} list={EVENTS_DATALIST} value={row.event} onChange={(e) => setRows(rows.map((r, j) => (j === i ? { ...r, event: e.target.value } : r)))} />
            <input className="mono wp-timeline-props" aria-label={t("testRun.properties")} placeholder='{"amount": 99}' value={row.properties} onChange={(e) => setRows(rows.map((r, j) => (j === i ? { ...r, properties: e.target.value } : r)))} />
          </div>
        ))}
        <button type="button" className="ins-add" onClick={() => setRows([...rows, { amount: 1, unit: "hours", event: "", properties: "" }])}>
          + {t("testRun.addEvent")}
        </button>
      </fieldset>

      <div className="wp-testrun-actions">
        <button type="button" className="primary" onClick={() => void run()} disabled={running} data-testid="testrun-run">
          ▶ {t("testRun.run")}
        </button>
        {result ? (
          <button type="button" onClick={clear}>
            {t("testRun.clear")}
          </button>
        ) : null}
        {problemCount > 0 ? <span className="muted">{t("testRun.problemsFirst", { count: problemCount })}</span> : null}
      </div>

      {result && "error" in result ? (
        <p className="form-error" role="alert">
          {result.error}
        </p>
      ) : null}

      {manyTrace ? (
        <section ref={resultsRef} className="wp-testrun-result" data-testid="testrun-results" aria-live="polite">
          {manyTrace.missing.length ? <p className="form-error">{t("testRun.missingUsers", { ids: manyTrace.missing.join(", ") })}</p> : null}
          <p className="wp-testrun-status">{t("testRun.manySummary", { users: manyTrace.trace.users.length, entered: manyTrace.trace.users.filter((u) => u.instances.length > 0).length })}</p>
          <h4>{t("testRun.nodeCounts")}</h4>
          <table className="table" data-testid="testrun-counts">
            <tbody>
              {Object.entries(manyTrace.trace.nodeCounts).map(([nodeId, counts]) => (
                <tr key={nodeId}>
                  <th scope="row">{nodeName(nodeId)}</th>
                  <td>{t("testRun.entered", { n: counts.entered })}</td>
                  <td>
                    {Object.entries(counts.left)
                      .map(([port, n]) => `${portName(nodeId, port)} ${n}`)
                      .join(" · ")}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h4>{t("testRun.eachUser")}</h4>
          <ul className="wp-steps" data-testid="testrun-users">
            {manyTrace.trace.users.map((u) => (
              <li key={u.userId}>
                <strong>{u.userId}</strong>{" "}
                {u.instances.length === 0
                  ? t("testRun.neverEntered")
                  : u.instances.map((instance) => (
                      <span key={instance.instanceId} className="muted">
                        {instance.steps.map((step) => `${nodeName(step.nodeId)}${step.output ? ` (${portName(step.nodeId, step.output)})` : ""}`).join(" → ")}
                        {instance.messages
                          .filter((m) => m.status !== "sent")
                          .map((m) => ` · ${nodeName(m.nodeId)}: ${t(`testRun.status.${m.status}`)}${m.until ? ` ${t("testRun.heldUntil", { at: when(m.until), reason: reasonText(m.reason ?? "quiet_hours") })}` : m.reason ? ` (${reasonText(m.reason)})` : ""}`)
                          .join("")}
                      </span>
                    ))}
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      {userTrace ? (
        <section ref={resultsRef} className="wp-testrun-result" data-testid="testrun-results" aria-live="polite">
          {userTrace.instances.length === 0 ? (
            <p className="form-error">{userTrace.rejectedEntries.length ? t("testRun.rejected", { reason: t(`testRun.rejection.${userTrace.rejectedEntries[0].reason}`) }) : t("testRun.neverEntered")}</p>
          ) : null}
          {userTrace.instances.map((instance) => (
            <div key={instance.instanceId}>
              <p className="wp-testrun-status">
                {instance.status === "completed" ? t("testRun.completed", { at: when(instance.completedAt!), reason: instance.reason ? t(`testRun.reason.${instance.reason}`) : "" }) : t("testRun.waiting", { node: nodeName(instance.waiting?.nodeId ?? "") })}
                {instance.holdout ? ` · ${t("testRun.holdout")}` : null}
                {instance.tzFallbacks > 0 ? ` · ${t("testRun.tzFallback", { zone })}` : null}
              </p>
              <p className="muted">{t("testRun.timesIn", { zone })}</p>
              <h4>{t("testRun.path")}</h4>
              <ol className="wp-steps" data-testid="testrun-steps">
                {instance.steps.map((step, i) => (
                  <li key={i}>
                    <strong>{nodeName(step.nodeId)}</strong>
                    {step.output ? <span className="wp-port-chip">{portName(step.nodeId, step.output)}</span> : null}
                    <span className="muted">
                      {" "}
                      {when(step.enteredAt)} ({after(step.enteredAt)})
                    </span>
                  </li>
                ))}
              </ol>
              <h4>{t("testRun.messages", { count: instance.messages.length })}</h4>
              {instance.messages.length === 0 ? <p className="muted">{t("testRun.noMessages")}</p> : null}
              <ul className="wp-messages" data-testid="testrun-messages">
                {instance.messages.map((m, i) => (
                  <li key={i} className={m.status}>
                    <div>
                      <strong>{t(`testRun.channel.${m.channel}`)}</strong> · {nodeName(m.nodeId)} · {when(m.at)} ({after(m.at)}) · {t(`testRun.status.${m.status}`)}
                      {m.status === "deferred" && m.until ? ` ${t("testRun.heldUntil", { at: when(m.until), reason: reasonText(m.reason ?? "quiet_hours") })}` : m.reason ? ` (${reasonText(m.reason)})` : null}
                    </div>
                    {Object.entries(m.content)
                      .filter(([field]) => field !== "html")
                      .map(([field, text]) => (
                        <p key={field} className="wp-message-copy">
                          <span className="muted">{t(`fields.${field}`, { defaultValue: field })}: </span>
                          {text}
                        </p>
                      ))}
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </section>
      ) : null}
    </div>
  );
}
