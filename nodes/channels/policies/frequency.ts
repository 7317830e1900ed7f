import type { Category, Channel } from "../provider";
import { localTime } from "./quiet-hours";
import type { FrequencyCap } from "./settings";

/** The caps that count a message of this channel and category. */
export function capsFor(caps: FrequencyCap[], channel: Channel, category: Category): FrequencyCap[] {
  return caps.filter((c) => c.category === category && (c.channel === "any" || c.channel === channel));
}

/**
 * The counter a cap uses at `now`: one per user, cap and local calendar period. Calendar periods
 * (not rolling 24 h) match how operators state caps ("at most 2 a day") and let a counter row be
 * a single upsert.
 */
export function counterKey(cap: FrequencyCap, now: Date, zone: string): { capKey: string; windowStart: string } {
  const local = localTime(now, zone);
  // Calendar arithmetic on the local date alone: luxon's startOf() would recompute the zone offset.
  const back = cap.period === "day" ? 0 : local.weekday - 1;
  const start = new Date(Date.UTC(local.year, local.month - 1, local.day - back)).toISOString().slice(0, 10);
  return {
    capKey: `${cap.channel}:${cap.category}:${cap.period}`,
    windowStart: start,
  };
}
