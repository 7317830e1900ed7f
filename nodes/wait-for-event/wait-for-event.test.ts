import { describe, expect, it } from "vitest";
import { summarizeNode } from "../define";
import { waitForEventConfigSchema, waitForEventNode } from "./definition";

describe("core.wait-for-event", () => {
  it("is unconfigured until an event is chosen", () => {
    expect(waitForEventConfigSchema.safeParse(waitForEventNode.defaults).success).toBe(false);
    expect(summarizeNode(waitForEventNode, waitForEventNode.defaults, "en")).toBe("Wait for event · not configured");
  });

  it("has happened and timed-out outputs and a bilingual summary", () => {
    const config = waitForEventConfigSchema.parse({ event: "order_completed", timeout: { amount: 24, unit: "hours" } });
    expect(config.filters).toEqual([]);
    expect(waitForEventNode.outputs(config).map((o) => [o.id, o.label.zh])).toEqual([
      ["happened", "已发生"],
      ["timed_out", "超时"],
    ]);
    expect(waitForEventNode.summary(config, "en")).toBe("Wait for order_completed, up to 24 hours");
    expect(waitForEventNode.summary(config, "zh")).toBe("等待 order_completed，最多 24 小时");
  });
});
