import type { JourneySettings } from "./document";

/**
 * Pure entry decision shared by all drivers: may this user start a new instance now?
 * The driver gathers the inputs (this user's previous entries, journey-wide entry counts) in
 * whatever way suits its store, ideally in the same transaction that creates the instance.
 */

export interface PriorEntry {
  enteredAt: number;
  /** True while that instance has not completed. */
  active: boolean;
}

/** Entries into this journey by all users: rolling last hour, rolling last 24 h, and ever. */
export interface EntryCounters {
  lastHour: number;
  lastDay: number;
  total: number;
}

export type EntryRejection = "already_entered" | "active" | "cooldown" | "cap_hour" | "cap_day" | "cap_total";

export type EntryDecision = { enter: true } | { enter: false; reason: EntryRejection };

export function entryDecision(
  settings: Pick<JourneySettings, "entry">,
  priorEntries: readonly PriorEntry[],
  now: number,
  counters: EntryCounters,
): EntryDecision {
  const { rule, cooldownMs, caps } = settings.entry;
  if (rule === "once" && priorEntries.length > 0) return { enter: false, reason: "already_entered" };
  if (rule === "cooldown") {
    if (priorEntries.some((e) => e.active)) return { enter: false, reason: "active" };
    const last = Math.max(...priorEntries.map((e) => e.enteredAt), -Infinity);
    if (now - last < (cooldownMs ?? 0)) return { enter: false, reason: "cooldown" };
  }
  // Caps last, so a user refused by their own rule does not use up the journey's quota.
  if (caps?.perHour !== undefined && counters.lastHour >= caps.perHour) return { enter: false, reason: "cap_hour" };
  if (caps?.perDay !== undefined && counters.lastDay >= caps.perDay) return { enter: false, reason: "cap_day" };
  if (caps?.total !== undefined && counters.total >= caps.total) return { enter: false, reason: "cap_total" };
  return { enter: true };
}
