import { z } from "zod";
import { defineNode } from "../define";
import { durationSchema, formatDuration } from "../duration";
import { formatWeekdays, hhmmSchema, isoWeekdaySchema } from "../fields";

export const waitConfigSchema = z.discriminatedUnion("mode", [
  /** Absolute duration (a day is 24 h). */
  z.object({ mode: z.literal("duration"), duration: durationSchema }),
  /** Next local time of day in the user's zone, on allowed ISO weekdays (empty = any day). */
  z.object({
    mode: z.literal("time_of_day"),
    times: z.array(hhmmSchema).min(1),
    weekdays: z.array(isoWeekdaySchema).default([]),
  }),
  /**
   * A date trait shifted by whole calendar days in the user's zone, optionally at a local time.
   * A missing, unparsable or past date lets the user through immediately.
   */
  z.object({
    mode: z.literal("date_trait"),
    trait: z.string().min(1),
    offsetDays: z.number().int().default(0),
    time: hhmmSchema.optional(),
  }),
  /** A fixed calendar date and local time, in the user's zone or the journey's zone. */
  z.object({
    mode: z.literal("calendar_date"),
    date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "expected YYYY-MM-DD"),
    time: hhmmSchema,
    zone: z.enum(["user", "journey"]).default("user"),
  }),
]);
export type WaitConfig = z.infer<typeof waitConfigSchema>;

function summary(config: WaitConfig, locale: "en" | "zh"): string {
  const zh = locale === "zh";
  switch (config.mode) {
    case "duration":
      return zh ? `等待 ${formatDuration(config.duration, "zh")}` : `Wait ${formatDuration(config.duration, "en")}`;
    case "time_of_day": {
      const times = config.times.join(zh ? "、" : " or ");
      const days = config.weekdays.length ? formatWeekdays(config.weekdays, locale) : "";
      if (zh) return `等待至${days ? ` ${days}` : ""} ${times}（用户时区）`;
      return `Wait until ${times}${days ? ` on ${days}` : ""} (user's time)`;
    }
    case "date_trait": {
      const n = Math.abs(config.offsetDays);
      const sign = config.offsetDays < 0 ? "−" : "+";
      const offset = config.offsetDays === 0 ? "" : zh ? ` ${sign} ${n} 天` : ` ${sign} ${n} ${n === 1 ? "day" : "days"}`;
      const at = config.time ? ` ${config.time}` : "";
      return zh ? `等待至 ${config.trait}${offset}${at}` : `Wait until ${config.trait}${offset}${at}`;
    }
    case "calendar_date":
      return zh ? `等待至 ${config.date} ${config.time}` : `Wait until ${config.date} ${config.time}`;
  }
}

export const waitNode = defineNode({
  type: "core.wait",
  version: 1,
  kind: "control",
  category: "flow",
  label: { en: "Wait", zh: "等待" },
  description: {
    en: "Pause for a duration, until a time of day in the user's zone, until a date trait, or until a date.",
    zh: "暂停一段时间，或等待至用户时区的某个时刻、某个日期属性或某个日期。",
  },
  icon: "⏳",
  config: waitConfigSchema,
  defaults: { mode: "duration", duration: { amount: 1, unit: "days" } },
  outputs: () => [{ id: "next", label: { en: "Next", zh: "下一步" } }],
  summary,
});
