import { DateTime, IANAZone } from "luxon";

/**
 * Wall-clock arithmetic in IANA zones. Everything takes and returns epoch milliseconds and never
 * reads the clock. We convert local wall time to instants ourselves instead of using
 * `DateTime.fromObject`, because luxon resolves an ambiguous local time using the offset of the
 * *current* date, which would make the interpreter's output depend on when it runs.
 *
 * DST policy (docs/decisions/0103-dst-policy.md):
 * - a local time that does not exist (spring-forward gap, 02:30 in New York on 2024-03-10) is
 *   moved forward by the length of the gap (03:30 EDT);
 * - a local time that exists twice (fall-back, 01:30 in New York on 2024-11-03) resolves to the
 *   first occurrence (01:30 EDT).
 */

export interface LocalDateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

export interface ZoneResolution {
  zone: string;
  /** Set when the user's zone could not be used and the fallback was taken. */
  fallback?: { reason: "missing" | "invalid"; given: string | null };
}

export function isValidZone(zone: unknown): zone is string {
  return typeof zone === "string" && zone.trim() !== "" && IANAZone.create(zone).isValid;
}

/** The user's zone if valid, else the fallback (which callers have validated). */
export function resolveZone(userZone: string | null | undefined, fallbackZone: string): ZoneResolution {
  if (userZone === undefined || userZone === null || userZone.trim() === "") {
    return { zone: fallbackZone, fallback: { reason: "missing", given: null } };
  }
  if (!isValidZone(userZone)) return { zone: fallbackZone, fallback: { reason: "invalid", given: userZone } };
  return { zone: userZone };
}

const QUARTER_HOUR = 15 * 60_000;
const OFFSET_CACHE_LIMIT = 20_000;
const offsetCache = new Map<string, Map<number, number>>();

/**
 * The zone's UTC offset at `ts`, in minutes. luxon asks Intl for it on every call (a
 * `formatToParts`), which was the interpreter's largest cost in the engine benchmark; offsets are
 * cached per zone and quarter hour. A quarter is cached only when the offsets at its start and
 * end agree (no transition inside), so a transition's quarter is always computed exactly.
 */
function offsetMinutes(zone: string, ts: number): number {
  let perZone = offsetCache.get(zone);
  if (!perZone) offsetCache.set(zone, (perZone = new Map()));
  const quarter = Math.floor(ts / QUARTER_HOUR);
  const cached = perZone.get(quarter);
  if (cached !== undefined) return cached;
  const iana = IANAZone.create(zone);
  const start = iana.offset(quarter * QUARTER_HOUR);
  if (start !== iana.offset((quarter + 1) * QUARTER_HOUR - 1)) return iana.offset(ts);
  if (perZone.size >= OFFSET_CACHE_LIMIT) perZone.clear();
  perZone.set(quarter, start);
  return start;
}

/** A Date's UTC fields, with the ISO weekday (1 = Monday … 7 = Sunday). */
function utcFields(date: Date) {
  const weekday = date.getUTCDay();
  return {
    year: date.getUTCFullYear(),
    month: date.getUTCMonth() + 1,
    day: date.getUTCDate(),
    hour: date.getUTCHours(),
    minute: date.getUTCMinutes(),
    weekday: weekday === 0 ? 7 : weekday,
  };
}

export function toLocal(ts: number, zone: string): LocalDateTime & { weekday: number } {
  // The wall clock is the instant shifted by the offset, read as UTC.
  return utcFields(new Date(ts + offsetMinutes(zone, ts) * 60_000));
}

/** Local wall time in `zone` → epoch ms, with the gap/overlap policy above. */
export function fromLocal(local: LocalDateTime, zone: string): number {
  const wall = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute);
  const day = 86_400_000;
  // Offsets in force a day either side cover every transition of real zones.
  const before = offsetMinutes(zone, wall - day);
  const after = offsetMinutes(zone, wall + day);
  const candidates = [before, after]
    .map((offset) => wall - offset * 60_000)
    .filter((ts) => toLocalMatches(ts, zone, local))
    .sort((a, b) => a - b);
  if (candidates.length > 0) return candidates[0];
  // Nonexistent local time: read it with the pre-transition offset, which lands after the gap.
  return wall - before * 60_000;
}

function toLocalMatches(ts: number, zone: string, local: LocalDateTime): boolean {
  const l = toLocal(ts, zone);
  return l.year === local.year && l.month === local.month && l.day === local.day && l.hour === local.hour && l.minute === local.minute;
}

/** Calendar-date arithmetic on a local date (no zone involved). */
export function addDays(date: { year: number; month: number; day: number }, days: number) {
  const { year, month, day, weekday } = utcFields(new Date(Date.UTC(date.year, date.month - 1, date.day + days)));
  return { year, month, day, weekday };
}

export function parseHhMm(value: string): { hour: number; minute: number } {
  const [h, m] = value.split(":").map(Number);
  return { hour: h, minute: m };
}

/**
 * The first instant strictly after `now` whose local time in `zone` is one of `times` on an
 * allowed ISO weekday (1 = Monday … 7 = Sunday; empty = every day). Strictly after, so a loop
 * through a time-of-day wait always makes progress.
 */
export function nextTimeOfDay(now: number, zone: string, times: readonly string[], weekdays: readonly number[]): number {
  // No allowed time lies between a computed `now` and its answer, so the answer holds for every
  // instant in [from, answer): users of one zone passing one wait share it (a batch of entries
  // computed the same 11:00 hundreds of times).
  const key = `${zone}|${times.join(",")}|${weekdays.join(",")}`;
  const known = nextTimeCache.get(key);
  if (known && known.from <= now && now < known.answer) return known.answer;
  const answer = computeNextTimeOfDay(now, zone, times, weekdays);
  if (nextTimeCache.size >= 1000) nextTimeCache.clear();
  nextTimeCache.set(key, { from: now, answer });
  return answer;
}

const nextTimeCache = new Map<string, { from: number; answer: number }>();

/** `nextTimeOfDay` without the cache (tests compare the two). */
export function computeNextTimeOfDay(now: number, zone: string, times: readonly string[], weekdays: readonly number[]): number {
  const today = toLocal(now, zone);
  const parsed = times.map(parseHhMm).sort((a, b) => a.hour * 60 + a.minute - (b.hour * 60 + b.minute));
  for (let offset = 0; offset <= 8; offset += 1) {
    const date = addDays(today, offset);
    if (weekdays.length > 0 && !weekdays.includes(date.weekday)) continue;
    for (const t of parsed) {
      const ts = fromLocal({ ...date, hour: t.hour, minute: t.minute }, zone);
      if (ts > now) return ts;
    }
  }
  throw new Error("nextTimeOfDay: no allowed weekday"); // unreachable with 1..7 weekdays
}

/** Parses a date trait: epoch ms (number), or an ISO date/date-time string. */
export function parseDateValue(value: unknown, zone: string): number | null {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value !== "string" || value.trim() === "") return null;
  // A bare date ("2025-03-01") is a local date in the user's zone, not UTC midnight.
  const dt = DateTime.fromISO(value.trim(), { zone, setZone: false });
  return dt.isValid ? dt.toMillis() : null;
}

/**
 * A date trait ± whole days, optionally at a local time of day. Days are calendar days in the
 * user's zone, so "3 days before at 10:00" stays at 10:00 across DST changes.
 */
export function shiftLocal(ts: number, zone: string, offsetDays: number, time?: string): number {
  const base = toLocal(ts, zone);
  const date = addDays(base, offsetDays);
  const t = time ? parseHhMm(time) : { hour: base.hour, minute: base.minute };
  // Without an explicit time the trait's seconds are kept, so a zero offset is a no-op.
  const subMinute = time ? 0 : ((ts % 60_000) + 60_000) % 60_000;
  return fromLocal({ year: date.year, month: date.month, day: date.day, hour: t.hour, minute: t.minute }, zone) + subMinute;
}
