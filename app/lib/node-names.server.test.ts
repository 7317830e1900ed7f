import { describe, expect, it } from "vitest";
import { nodeNamesOf } from "./node-names.server";

describe("nodeNamesOf", () => {
  it("names nodes by their own label, else their type's label, and ports by the definition's output labels", () => {
    const names = nodeNamesOf({
      nodes: [
        { id: "wait_for_event_0a9i", type: "core.wait-for-event", config: { event: "order_completed", timeout: { amount: 1, unit: "days" } } },
        { id: "push_1", type: "core.push", label: "Win-back push", config: { title: "Hi", body: "Back?" } },
        { id: "x", type: "acme.unknown", config: {} },
      ],
    });
    expect(names.push_1?.label).toEqual({ en: "Win-back push", zh: "Win-back push" });
    expect(names.wait_for_event_0a9i?.label).toEqual({ en: "Wait for event", zh: "等待事件" });
    expect(names.x?.label).toEqual({ en: "acme.unknown", zh: "acme.unknown" });
    expect(names.push_1?.ports.failed).toBeDefined();
    expect(names.wait_for_event_0a9i?.ports.timed_out).toEqual({ en: "Timed out", zh: "超时" });
  });

  it("survives a document without nodes", () => {
    expect(nodeNamesOf(null)).toEqual({});
    expect(nodeNamesOf({ nodes: "no" })).toEqual({});
  });
});
