import { describe, expect, it } from "vitest";
import { summarizeNode } from "../define";
import { triggerConfigSchema, triggerNode } from "./definition";
import { API_TRIGGER_EVENT, SEGMENT_ENTERED_EVENT, SEGMENT_EXITED_EVENT, scheduleRuns, triggerMatchesEvent } from "./match";

const parse = (c: unknown) => triggerConfigSchema.parse(c);

describe("core.trigger", () => {
  it("starts unconfigured and summarises each source in both languages", () => {
    expect(triggerConfigSchema.safeParse(triggerNode.defaults).success).toBe(false);
    expect(summarizeNode(triggerNode, triggerNode.defaults, "zh")).toBe("触发器 · 未配置");
    const first = parse({ source: "event", event: "order_completed", filters: [{ property: "order_count", op: "eq", value: 1 }] });
    expect(triggerNode.summary(first, "en")).toBe("When order_completed (order_count = 1)");
    expect(triggerNode.summary(first, "zh")).toBe("当发生 order_completed（order_count = 1）");
    expect(triggerNode.summary(parse({ source: "segment_entry", segment: "churned_buyers" }), "zh")).toBe("进入人群 churned_buyers");
    expect(triggerNode.summary(parse({ source: "schedule", segment: "vip", schedule: { type: "recurring", time: "10:00", weekdays: [1, 3] } }), "en")).toBe(
      "Mon, Wed at 10:00 · segment vip",
    );
    expect(triggerNode.outputs(first)).toEqual([{ id: "next", label: { en: "Next", zh: "下一步" } }]);
  });

  it("requires a value for comparison filters", () => {
    expect(triggerConfigSchema.safeParse({ source: "event", event: "x", filters: [{ property: "a", op: "eq" }] }).success).toBe(false);
    expect(triggerConfigSchema.safeParse({ source: "event", event: "x", filters: [{ property: "a", op: "in", value: 1 }] }).success).toBe(false);
    expect(triggerConfigSchema.safeParse({ source: "event", event: "x", filters: [{ property: "a", op: "exists" }] }).success).toBe(true);
  });

  it("matches events, segment changes and API calls", () => {
    const first = parse({ source: "event", event: "order_completed", filters: [{ property: "order_count", op: "eq", value: 1 }] });
    expect(triggerMatchesEvent(first, { name: "order_completed", properties: { order_count: 1 } })).toBe(true);
    expect(triggerMatchesEvent(first, { name: "order_completed", properties: { order_count: "1" } })).toBe(true);
    expect(triggerMatchesEvent(first, { name: "order_completed", properties: { order_count: 2 } })).toBe(false);
    expect(triggerMatchesEvent(first, { name: "signed_up", properties: { order_count: 1 } })).toBe(false);
    const seg = parse({ source: "segment_entry", segment: "churned" });
    expect(triggerMatchesEvent(seg, { name: SEGMENT_ENTERED_EVENT, properties: { segment: "churned" } })).toBe(true);
    expect(triggerMatchesEvent(seg, { name: SEGMENT_EXITED_EVENT, properties: { segment: "churned" } })).toBe(false);
    expect(triggerMatchesEvent(parse({ source: "segment_exit", segment: "churned" }), { name: SEGMENT_EXITED_EVENT, properties: { segment: "churned" } })).toBe(true);
    expect(triggerMatchesEvent(parse({ source: "api" }), { name: API_TRIGGER_EVENT, properties: {} })).toBe(true);
  });

  it("lists schedule runs in the journey zone, across DST", () => {
    const once = parse({ source: "schedule", segment: "all", schedule: { type: "once", at: "2024-06-01T02:00:00Z" } });
    expect(scheduleRuns(once, Date.parse("2024-06-01T00:00:00Z"), Date.parse("2024-06-02T00:00:00Z"), "UTC")).toEqual([Date.parse("2024-06-01T02:00:00Z")]);
    expect(scheduleRuns(once, Date.parse("2024-06-01T03:00:00Z"), Date.parse("2024-06-02T00:00:00Z"), "UTC")).toEqual([]);
    const weekly = parse({ source: "schedule", segment: "all", schedule: { type: "recurring", time: "09:00", weekdays: [6, 7] } });
    const runs = scheduleRuns(weekly, Date.parse("2024-03-08T00:00:00Z"), Date.parse("2024-03-18T00:00:00Z"), "America/New_York");
    expect(runs.map((t) => new Date(t).toISOString())).toEqual([
      "2024-03-09T14:00:00.000Z", // Sat, EST
      "2024-03-10T13:00:00.000Z", // Sun, EDT
      "2024-03-16T13:00:00.000Z",
      "2024-03-17T13:00:00.000Z",
    ]);
  });
});
