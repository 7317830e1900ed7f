import type { JourneyEvent } from "../runtime";
import { matchesFilters } from "../filters";
import { addDays, fromLocal, parseHhMm, toLocal } from "../../workflows/time";
import type { TriggerConfig } from "./definition";

/**
 * Entry routing shared by all drivers. Segment changes and API entries arrive as internal
 * events, so a driver has one code path: "does this event start an instance?".
 */
export const SEGMENT_ENTERED_EVENT = "$segment.entered";
export const SEGMENT_EXITED_EVENT = "$segment.exited";
/** Properties: { journeyId?: string } plus anything the caller passes to templates. */
export const API_TRIGGER_EVENT = "$api.trigger";

export function triggerMatchesEvent(config: TriggerConfig, event: JourneyEvent): boolean {
  switch (config.source) {
    case "event":
      return event.name === config.event && matchesFilters(event.properties, config.filters);
    case "segment_entry":
      return event.name === SEGMENT_ENTERED_EVENT && event.properties.segment === config.segment;
    case "segment_exit":
      return event.name === SEGMENT_EXITED_EVENT && event.properties.segment === config.segment;
    case "api":
      return event.name === API_TRIGGER_EVENT;
    case "schedule":
      return false;
  }
}

/**
 * Schedule runs in [from, to) as epoch ms. Recurring times are local to `zone` (the journey's
 * zone): a whole segment is messaged at one instant, unlike per-user time-of-day waits.
 */
export function scheduleRuns(config: TriggerConfig, from: number, to: number, zone: string): number[] {
  if (config.source !== "schedule") return [];
  const s = config.schedule;
  if (s.type === "once") {
    const at = Date.parse(s.at);
    return at >= from && at < to ? [at] : [];
  }
  const start = Math.max(from, s.startAt ? Date.parse(s.startAt) : from);
  const end = Math.min(to, s.endAt ? Date.parse(s.endAt) : to);
  const runs: number[] = [];
  const { hour, minute } = parseHhMm(s.time);
  const first = toLocal(start, zone);
  // Bounded so an open-ended schedule cannot spin: ten years of daily runs.
  for (let offset = 0; offset < 3700; offset += 1) {
    const date = addDays(first, offset);
    const at = fromLocal({ year: date.year, month: date.month, day: date.day, hour, minute }, zone);
    if (at >= end) break;
    if (at >= start && (s.weekdays.length === 0 || s.weekdays.includes(date.weekday))) runs.push(at);
  }
  return runs;
}
