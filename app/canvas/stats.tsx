import type { inferRouterOutputs } from "@trpc/server";
import { createContext, useContext, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import type { OutputPort } from "../../nodes/define";
import type { AppRouter } from "../trpc/router.server";
import { useCanvas } from "./context";
import { useLocale } from "./locale";

/**
 * Live counts on the cards of a published journey (app/lib/analytics.server.ts): users who
 * entered, who are waiting there now, how many left by each output and converted after it, and
 * who left the journey there by reason; message nodes add their delivery funnel and failure
 * reasons. Exact counts from the node-event rollups, never estimates; a period selects users by
 * when they entered the journey (docs/analytics.md).
 */
export type JourneyStats = inferRouterOutputs<AppRouter>["journeys"]["stats"];
type NodeStats = JourneyStats["nodes"][string];

const StatsContext = createContext<JourneyStats["nodes"] | null>(null);

export function NodeStatsProvider({ stats, children }: { stats: JourneyStats["nodes"] | null; children: ReactNode }) {
  return <StatsContext.Provider value={stats}>{children}</StatsContext.Provider>;
}

export const percent = (part: number, whole: number) => (whole > 0 ? `${Math.round((part / whole) * 1000) / 10}%` : "–");

/** Undefined when no counts are shown; zeros for a node nobody has reached yet. */
export function useNodeStats(nodeId: string): NodeStats | null | undefined {
  const all = useContext(StatsContext);
  return all ? (all[nodeId] ?? null) : undefined;
}

/** The order exit reasons are listed in on a card (docs/analytics.md). */
const EXIT_ORDER = ["goal", "exit_criteria", "cancelled", "failed", "holdout", "exit_node"];
const exitRank = (reason: string) => (EXIT_ORDER.includes(reason) ? EXIT_ORDER.indexOf(reason) : EXIT_ORDER.length);

/**
 * The card's numbers. Every visit is accounted for: entered = Σ outputs (under the ports) +
 * waiting + left the journey here by reason. Who is "waiting" depends on the node: on an Exit it
 * is users watching for the goal until its window ends, on the trigger the holdout doing the same.
 */
export function NodeStatsView({ nodeId, nodeType, kind }: { nodeId: string; nodeType?: string; kind?: string }) {
  const all = useContext(StatsContext);
  const { t } = useTranslation(["canvas", "channels"]);
  const locale = useLocale();
  if (!all) return null;
  const stats: NodeStats | undefined = all[nodeId];
  const number = (n: number) => n.toLocaleString(locale === "zh" ? "zh-CN" : "en-US");
  const entered = stats?.entered ?? 0;
  const m = stats?.messages;
  const isMessage = m && (m.sent > 0 || m.failed > 0 || m.deferred > 0);
  const waitingKey = nodeType === "core.exit" ? "stats.inGoalWindow" : kind === "trigger" ? "stats.heldOutWatching" : "stats.waiting";
  const exits = Object.entries(stats?.exits ?? {})
    .filter(([, n]) => n !== 0)
    .sort(([a], [b]) => exitRank(a) - exitRank(b));
  const reasons = Object.entries(stats?.failureReasons ?? {})
    .filter(([, n]) => n > 0)
    .sort(([, a], [, b]) => b - a);
  const reasonLabel = (code: string) => t(`channels:reason.${code}`, { defaultValue: code });
  return (
    <div className="wp-node-stats" data-testid={`node-stats-${nodeId}`}>
      <span>{t("stats.entered", { n: number(entered) })}</span>
      {stats?.waiting ? <span data-testid={`node-waiting-${nodeId}`}>{t(waitingKey, { n: number(stats.waiting) })}</span> : null}
      {stats?.conversions ? <span>{t("stats.converted", { n: number(stats.conversions) })}</span> : null}
      {/* Users an operator moved to a newer version left by `moved`, which is no port of the node. */}
      {stats?.left.moved ? <span data-testid={`node-moved-${nodeId}`}>{t("stats.movedOut", { n: number(stats.left.moved) })}</span> : null}
      {exits.length > 0 ? (
        <span className="wp-node-exits" data-testid={`node-exits-${nodeId}`}>
          {t("stats.leftHere")}{" "}
          {exits.map(([reason, n], i) => (
            <span key={reason} data-testid={`node-exit-${nodeId}-${reason}`}>
              {i > 0 ? " · " : null}
              {t(`stats.exit.${reason}`, { n: number(n), defaultValue: `${reason} ${number(n)}` })}
            </span>
          ))}
        </span>
      ) : null}
      {isMessage ? (
        <span className="wp-funnel">
          {t("stats.funnel", {
            sent: number(m.sent),
            delivered: number(m.delivered),
            deliveredRate: percent(m.delivered, m.sent),
            opened: number(m.opened),
            clicked: number(m.clicked),
            failed: number(m.failed),
          })}
        </span>
      ) : null}
      {reasons.length > 0 ? (
        <span className="wp-node-reasons" data-testid={`node-reasons-${nodeId}`} title={reasons.map(([code, n]) => `${reasonLabel(code)}: ${number(n)}`).join("\n")}>
          {t("stats.failureReasons", { list: reasons.slice(0, 3).map(([code, n]) => `${reasonLabel(code)} ${number(n)}`).join(" · ") })}
          {reasons.length > 3 ? ` ${t("stats.moreReasons", { count: reasons.length - 3 })}` : null}
        </span>
      ) : null}
    </div>
  );
}

/** Under a port's label: how many left by it, their share, and conversions after it. */
export function PortCount({ stats, port }: { stats: NodeStats | null; port: OutputPort }) {
  const { t } = useTranslation("canvas");
  const locale = useLocale();
  const left = stats?.left[port.id] ?? 0;
  const converted = stats?.branchConversions[port.id];
  return (
    <span className="wp-port-count" data-testid={`port-count-${port.id}`}>
      {left.toLocaleString(locale === "zh" ? "zh-CN" : "en-US")} · {percent(left, stats?.entered ?? 0)}
      {converted ? ` · ${t("stats.convertedShort", { n: converted })}` : null}
    </span>
  );
}

export interface StatsRange {
  versionId?: string;
  sinceDays?: number;
  /** A custom period of entry: ISO instants (the browser's local midnights of the days picked). */
  from?: string;
  to?: string;
}

/** "YYYY-MM-DD" of a local day ↔ the ISO instant of its local midnight. */
const dayToIso = (day: string) => new Date(`${day}T00:00:00`).toISOString();
const isoToDay = (value: string) => {
  const d = new Date(value);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
};
const nextDay = (day: string) => {
  const d = new Date(`${day}T00:00:00`);
  d.setDate(d.getDate() + 1);
  return d.toISOString();
};

/** Journey totals over the canvas, with the period and version the cards count. */
export function StatsBar({
  stats,
  range,
  onRange,
  versions,
}: {
  stats: JourneyStats;
  range: StatsRange;
  onRange(range: StatsRange): void;
  versions: Array<{ id: string; version: number }>;
}) {
  const { t } = useTranslation("canvas");
  const locale = useLocale();
  const number = (n: number) => n.toLocaleString(locale === "zh" ? "zh-CN" : "en-US");
  const totals = stats.totals;
  const pct = (r: number) => `${Math.round(r * 1000) / 10}%`;
  const hasGoal = useCanvas((s) => Boolean(s.settings.goal));
  return (
    <section className="wp-stats-bar" aria-label={t("stats.bar")} data-testid="stats-bar">
      <strong>{t("stats.bar")}</strong>
      <select
        aria-label={t("stats.range")}
        value={range.from || range.to ? "custom" : (range.sinceDays ?? "")}
        onChange={(e) => {
          const value = e.target.value;
          if (value === "custom") onRange({ versionId: range.versionId, from: dayToIso(isoToDay(new Date(Date.now() - 6 * 86_400_000).toISOString())) });
          else onRange({ versionId: range.versionId, sinceDays: value ? Number(value) : undefined });
        }}
      >
        <option value="">{t("stats.allTime")}</option>
        {[1, 7, 30, 90].map((n) => (
          <option key={n} value={n}>
            {t("stats.lastDays", { n })}
          </option>
        ))}
        <option value="custom">{t("stats.customRange")}</option>
      </select>
      {range.from || range.to ? (
        <>
          <label>
            {t("stats.enteredFrom")}{" "}
            <input
              type="date"
              data-testid="stats-from"
              value={range.from ? isoToDay(range.from) : ""}
              onChange={(e) => onRange({ ...range, from: e.target.value ? dayToIso(e.target.value) : undefined })}
            />
          </label>
          <label>
            {t("stats.enteredTo")}{" "}
            <input
              type="date"
              data-testid="stats-to"
              value={range.to ? isoToDay(new Date(new Date(range.to).getTime() - 1).toISOString()) : ""}
              onChange={(e) => onRange({ ...range, to: e.target.value ? nextDay(e.target.value) : undefined })}
            />
          </label>
        </>
      ) : null}
      {versions.length > 1 ? (
        <select aria-label={t("stats.version")} value={range.versionId ?? ""} onChange={(e) => onRange({ ...range, versionId: e.target.value || undefined })}>
          <option value="">{t("stats.allVersions")}</option>
          {versions.map((v) => (
            <option key={v.id} value={v.id}>
              {t("stats.versionN", { n: v.version })}
            </option>
          ))}
        </select>
      ) : null}
      <span>{t("stats.inside", { n: number(totals.inside) })}</span>
      <span>{t("stats.totalEntered", { n: number(totals.entered) })}</span>
      {/* No goal: there is no conversion to count, so no "0%" (issue 14). */}
      {hasGoal ? <span>{t("stats.totalConverted", { n: number(totals.converted), rate: pct(totals.conversionRate) })}</span> : <span className="muted" data-testid="stats-no-goal">{t("stats.noGoal")}</span>}
      {totals.holdout.entered > 0 ? <span className="muted">{t("stats.holdout", { rate: pct(totals.holdout.conversionRate) })}</span> : null}
    </section>
  );
}
