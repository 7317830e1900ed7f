import { DateTime, IANAZone } from "luxon";
import type { Category } from "../provider";
import type { PolicySettings } from "./settings";

export interface ResolvedZone {
  zone: string;
  /** The user's own zone was missing or invalid and the workspace zone was used instead. */
  fellBack: boolean;
}

// Checking a zone builds an Intl.DateTimeFormat (~0.1 ms); users share a handful of zones.
const validity = new Map<string, boolean>();
function isValidZone(zone: string): boolean {
  let valid = validity.get(zone);
  if (valid === undefined) {
    valid = IANAZone.isValidZone(zone);
    if (validity.size > 10_000) validity.clear(); // garbage zone strings must not grow it forever
    validity.set(zone, valid);
  }
  return valid;
}

/** Unknown or invalid zones fall back to the workspace's, counted but never dropped. */
export function resolveZone(userZone: string | null | undefined, workspaceZone: string): ResolvedZone {
  if (userZone && isValidZone(userZone)) return { zone: userZone, fellBack: false };
  return { zone: isValidZone(workspaceZone) ? workspaceZone : "UTC", fellBack: true };
}

let last: { ms: number; zone: string; local: DateTime } | undefined;
/** `now` in `zone`; the send path asks twice for the same instant (quiet hours, then caps). */
export function localTime(now: Date, zone: string): DateTime {
  const ms = now.getTime();
  if (last && last.ms === ms && last.zone === zone) return last.local;
  const local = DateTime.fromMillis(ms, { zone });
  last = { ms, zone, local };
  return local;
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(":").map(Number);
  return h! * 60 + m!;
}

export type QuietHoursDecision = { quiet: false } | { quiet: true; endsAt: Date };

/**
 * Whether `now` falls inside the quiet window in `zone`, and when the window ends. Windows may
 * wrap midnight (21:00–08:00). The end is computed on the local calendar, so a DST change inside
 * the window still ends it at 08:00 local time.
 */
export function quietHours(
  now: Date,
  zone: string,
  category: Category,
  settings: PolicySettings["quietHours"],
): QuietHoursDecision {
  if (!settings.enabled || !settings.appliesTo.includes(category)) return { quiet: false };
  const start = minutesOf(settings.start);
  const end = minutesOf(settings.end);
  if (start === end) return { quiet: false };
  const local = localTime(now, zone);
  const minute = local.hour * 60 + local.minute;
  const wraps = start > end;
  const inside = wraps ? minute >= start || minute < end : minute >= start && minute < end;
  if (!inside) return { quiet: false };
  // The window ends today if we are before its end time, otherwise tomorrow (wrapping windows).
  const endDay = minute < end ? local : local.plus({ days: 1 });
  const endsAt = endDay.set({ hour: Math.floor(end / 60), minute: end % 60, second: 0, millisecond: 0 });
  return { quiet: true, endsAt: endsAt.toJSDate() };
}
