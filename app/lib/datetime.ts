/**
 * The one date-time format of the operator pages (issue 14; decision 1151), browser-safe:
 *   en: "2026-12-03 09:30 GMT+8 (Asia/Shanghai)"
 *   zh: "2026年12月3日 09:30 (Asia/Shanghai)"
 * always in the workspace's zone (not the browser's, so two operators see the same time), with
 * the zone named. Built on Intl.DateTimeFormat (the platform's tz database), no library needed.
 */
export const DEFAULT_TIME_ZONE = "Asia/Shanghai";

export interface DateTimeOptions {
  locale: string;
  timeZone?: string | null;
  /** Timelines need seconds; lists do not. */
  seconds?: boolean;
}

function validZone(zone: string | null | undefined): string {
  if (!zone) return DEFAULT_TIME_ZONE;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return zone;
  } catch {
    return DEFAULT_TIME_ZONE;
  }
}

export function formatDateTime(value: string | number | Date | null | undefined, options: DateTimeOptions): string {
  if (value === null || value === undefined || value === "") return "—";
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return "—";
  const timeZone = validZone(options.timeZone);
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
      timeZoneName: "short",
    })
      .formatToParts(date)
      .map((p) => [p.type, p.value]),
  ) as Record<string, string>;
  const time = `${parts.hour}:${parts.minute}${options.seconds ? `:${parts.second}` : ""}`;
  if (options.locale.startsWith("zh")) {
    return `${parts.year}年${Number(parts.month)}月${Number(parts.day)}日 ${time} (${timeZone})`;
  }
  return `${parts.year}-${parts.month}-${parts.day} ${time} ${parts.timeZoneName} (${timeZone})`;
}
