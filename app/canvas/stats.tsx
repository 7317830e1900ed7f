import type { inferRouterOutputs } from "@trpc/server";
import { createContext, useContext, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import type { OutputPort } from "../../nodes/define";
import type { AppRouter } from "../trpc/router.server";
import { useLocale } from "./locale";

/**
 * Live counts on the cards of a published journey (app/lib/analytics.server.ts): users who
 * entered, who are waiting there now, how many left by each output and converted after it;
 * message nodes add their delivery funnel. Exact counts from node events, never estimates.
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

export function NodeStatsView({ nodeId }: { nodeId: string }) {
  const all = useContext(StatsContext);
  const { t } = useTranslation("canvas");
  const locale = useLocale();
  if (!all) return null;
  const stats: NodeStats | undefined = all[nodeId];
  const number = (n: number) => n.toLocaleString(locale === "zh" ? "zh-CN" : "en-US");
  const entered = stats?.entered ?? 0;
  const m = stats?.messages;
  const isMessage = m && (m.sent > 0 || m.failed > 0 || m.deferred > 0);
  return (
    <div className="wp-node-stats" data-testid={`node-stats-${nodeId}`}>
      <span>{t("stats.entered", { n: number(entered) })}</span>
      {stats?.waiting ? <span>{t("stats.waiting", { n: number(stats.waiting) })}</span> : null}
      {stats?.conversions ? <span>{t("stats.converted", { n: number(stats.conversions) })}</span> : null}
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
}

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
  return (
    <section className="wp-stats-bar" aria-label={t("stats.bar")} data-testid="stats-bar">
      <strong>{t("stats.bar")}</strong>
      <select aria-label={t("stats.range")} value={range.sinceDays ?? ""} onChange={(e) => onRange({ ...range, sinceDays: e.target.value ? Number(e.target.value) : undefined })}>
        <option value="">{t("stats.allTime")}</option>
        {[1, 7, 30, 90].map((n) => (
          <option key={n} value={n}>
            {t("stats.lastDays", { n })}
          </option>
        ))}
      </select>
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
      <span>{t("stats.totalConverted", { n: number(totals.converted), rate: pct(totals.conversionRate) })}</span>
      {totals.holdout.entered > 0 ? <span className="muted">{t("stats.holdout", { rate: pct(totals.holdout.conversionRate) })}</span> : null}
    </section>
  );
}
