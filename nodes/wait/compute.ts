import { durationMs } from "../duration";
import { parseDateValue, fromLocal, nextTimeOfDay, shiftLocal, parseHhMm } from "../../workflows/time";
import type { WaitConfig } from "./definition";

/** Whether computing this wait needs the user's time zone (and may therefore fall back). */
export function waitUsesUserZone(config: WaitConfig): boolean {
  switch (config.mode) {
    case "duration":
      return false;
    case "calendar_date":
      return config.zone === "user";
    default:
      return true;
  }
}

/** Whether this wait always blocks (used by the compiler's loop check). */
export function waitAlwaysBlocks(config: WaitConfig): boolean {
  return config.mode === "duration" || config.mode === "time_of_day";
}

/**
 * When the wait ends. `zone` is the resolved user zone (or the journey zone for
 * calendar dates in journey mode). A result at or before `now` means "continue now".
 */
export function waitUntil(config: WaitConfig, now: number, zone: string, traits: Record<string, unknown>): number {
  switch (config.mode) {
    case "duration":
      return now + durationMs(config.duration);
    case "time_of_day":
      return nextTimeOfDay(now, zone, config.times, config.weekdays);
    case "date_trait": {
      const base = parseDateValue(traits[config.trait], zone);
      if (base === null) return now;
      return shiftLocal(base, zone, config.offsetDays, config.time);
    }
    case "calendar_date": {
      const [year, month, day] = config.date.split("-").map(Number);
      return fromLocal({ year, month, day, ...parseHhMm(config.time) }, zone);
    }
  }
}
