import { z } from "zod";

/**
 * Durations are absolute: a day is 24 hours, so "wait 2 days" is 48 hours even across a DST
 * change (see docs/decisions/0104-absolute-durations.md). Waits that must land on a local
 * wall-clock time use the time-of-day or date modes instead.
 */
export const durationUnits = ["minutes", "hours", "days", "weeks"] as const;
export type DurationUnit = (typeof durationUnits)[number];

export const durationSchema = z.object({
  amount: z.number().int().positive(),
  unit: z.enum(durationUnits),
});
export type Duration = z.infer<typeof durationSchema>;

const unitMs: Record<DurationUnit, number> = {
  minutes: 60_000,
  hours: 3_600_000,
  days: 86_400_000,
  weeks: 604_800_000,
};

export function durationMs(d: Duration): number {
  return d.amount * unitMs[d.unit];
}

const words: Record<DurationUnit, { en: [string, string]; zh: string }> = {
  minutes: { en: ["minute", "minutes"], zh: "分钟" },
  hours: { en: ["hour", "hours"], zh: "小时" },
  days: { en: ["day", "days"], zh: "天" },
  weeks: { en: ["week", "weeks"], zh: "周" },
};

export function formatDuration(d: Duration, locale: "en" | "zh"): string {
  const w = words[d.unit];
  return locale === "zh" ? `${d.amount} ${w.zh}` : `${d.amount} ${d.amount === 1 ? w.en[0] : w.en[1]}`;
}

/** Formats a millisecond span using the largest unit that divides it evenly. */
export function formatMs(ms: number, locale: "en" | "zh"): string {
  for (const unit of ["weeks", "days", "hours", "minutes"] as const) {
    if (ms % unitMs[unit] === 0 && ms >= unitMs[unit]) return formatDuration({ amount: ms / unitMs[unit], unit }, locale);
  }
  return locale === "zh" ? `${Math.round(ms / 1000)} 秒` : `${Math.round(ms / 1000)} s`;
}
