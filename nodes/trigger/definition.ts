import { z } from "zod";
import { defineNode, type Localized } from "../define";
import { hhmmSchema, isoWeekdaySchema, formatWeekdays } from "../fields";
import { describeFilter, propertyFilterSchema } from "../filters";

/**
 * How users enter. Segment membership changes and API entries reach the journey as internal
 * events (see `./match.ts`) so every driver routes entries the same way as user events.
 */
const eventSource = z.object({
  source: z.literal("event"),
  event: z.string().min(1),
  filters: z.array(propertyFilterSchema).default([]),
});
const segmentEntry = z.object({ source: z.literal("segment_entry"), segment: z.string().min(1) });
const segmentExit = z.object({ source: z.literal("segment_exit"), segment: z.string().min(1) });
const apiSource = z.object({ source: z.literal("api") });
const scheduleSource = z.object({
  source: z.literal("schedule"),
  /** The segment whose members enter at each run. */
  segment: z.string().min(1),
  schedule: z.discriminatedUnion("type", [
    z.object({ type: z.literal("once"), at: z.string().datetime({ offset: true }) }),
    z.object({
      type: z.literal("recurring"),
      /** Local time in the journey's zone (settings.timezone, else the workspace zone). */
      time: hhmmSchema,
      /** ISO weekdays (1 = Monday); empty means every day. */
      weekdays: z.array(isoWeekdaySchema).default([]),
      startAt: z.string().datetime({ offset: true }).optional(),
      endAt: z.string().datetime({ offset: true }).optional(),
    }),
  ]),
});

export const triggerConfigSchema = z.discriminatedUnion("source", [
  eventSource,
  segmentEntry,
  segmentExit,
  apiSource,
  scheduleSource,
]);
export type TriggerConfig = z.infer<typeof triggerConfigSchema>;

const next: Localized = { en: "Next", zh: "下一步" };

export const triggerNode = defineNode({
  type: "core.trigger",
  version: 1,
  kind: "trigger",
  category: "triggers",
  label: { en: "Trigger", zh: "触发器" },
  description: {
    en: "How users enter: an event, entering or leaving a segment, an API call, or a schedule.",
    zh: "用户如何进入旅程：事件、进入或离开人群、API 调用或定时。",
  },
  icon: "⚡",
  config: triggerConfigSchema,
  defaults: { source: "event", event: "", filters: [] },
  outputs: () => [{ id: "next", label: next }],
  summary(config, locale) {
    switch (config.source) {
      case "event": {
        const filters = config.filters.map((f) => describeFilter(f.property, f.op, f.value, locale));
        const suffix = filters.length ? (locale === "zh" ? `（${filters.join("，")}）` : ` (${filters.join(", ")})`) : "";
        return locale === "zh" ? `当发生 ${config.event}${suffix}` : `When ${config.event}${suffix}`;
      }
      case "segment_entry":
        return locale === "zh" ? `进入人群 ${config.segment}` : `Enters segment ${config.segment}`;
      case "segment_exit":
        return locale === "zh" ? `离开人群 ${config.segment}` : `Leaves segment ${config.segment}`;
      case "api":
        return locale === "zh" ? "API 调用" : "API call";
      case "schedule": {
        const s = config.schedule;
        if (s.type === "once") {
          return locale === "zh" ? `定时 ${s.at} · 人群 ${config.segment}` : `Once at ${s.at} · segment ${config.segment}`;
        }
        const days = s.weekdays.length ? formatWeekdays(s.weekdays, locale) : locale === "zh" ? "每天" : "every day";
        return locale === "zh"
          ? `${days} ${s.time} · 人群 ${config.segment}`
          : `${days} at ${s.time} · segment ${config.segment}`;
      }
    }
  },
});
