import { describe, expect, it } from "vitest";
import { summarizeNode } from "../define";
import { actionContext, fakeServices } from "../testing";
import { pushConfigSchema, pushNode } from "./definition";
import { run } from "./runtime.server";

const HUGE = "{% for i in (1..3000000) %}x{% endfor %}";

const config = {
  title: "我们想你了 · We miss you",
  body: '{{ user.name | default: "朋友" }}，送你一张 ¥10 优惠券',
  deepLink: "waypost://coupons/{{ user.id }}",
  category: "marketing",
  quietHours: "defer",
};

describe("core.push definition", () => {
  it("is unconfigured until it has a body; cards show the copy", () => {
    expect(summarizeNode(pushNode, pushNode.defaults, "zh")).toBe("推送 · 未配置");
    expect(pushNode.summary(pushConfigSchema.parse(config), "zh")).toBe("推送 · 我们想你了 · We miss…");
    expect(pushConfigSchema.safeParse({ body: "{{ user.name | nosuchfilter }}" }).success).toBe(false);
    expect(pushNode.summary(pushConfigSchema.parse({ body: "Your fare was deducted" }), "en")).toBe("Push · Your fare was de…");
    expect(pushNode.outputs(pushConfigSchema.parse(config)).map((o) => o.id)).toEqual(["sent", "failed"]);
  });

  it("previews the rendered copy with character counts", () => {
    const preview = pushNode.preview!(pushConfigSchema.parse(config), { user: { id: "u9", traits: { name: "小李" } } });
    expect(preview).toEqual({
      channel: "push",
      fields: { title: "我们想你了 · We miss you", body: "小李，送你一张 ¥10 优惠券", deepLink: "waypost://coupons/u9" },
      errors: {},
      counts: { title: 19, body: 15, deepLink: 20 },
    });
    expect(pushNode.preview!(pushConfigSchema.parse(config), { user: { id: "u9", traits: {} } }).fields.body).toBe("朋友，送你一张 ¥10 优惠券");
  });

  it("reports render errors per field instead of throwing", () => {
    // Parses fine, but exceeds the sandbox's memory limit when rendered.
    const preview = pushNode.preview!(pushConfigSchema.parse({ body: HUGE }), { user: { id: "u", traits: {} } });
    expect(Object.keys(preview.errors)).toEqual(["body"]);
  });
});

describe("core.push runtime", () => {
  it("sends rendered copy through the channels service with the idempotency key", async () => {
    const services = fakeServices();
    const result = await run(actionContext(services, { nodeId: "push_winback" }), config);
    expect(result).toEqual({ output: "sent", detail: { messageId: "m-1" } });
    expect(services.sent).toEqual([
      {
        channel: "push",
        category: "marketing",
        content: { title: "我们想你了 · We miss you", body: "小王，送你一张 ¥10 优惠券", deepLink: "waypost://coupons/u1" },
        nodeId: "push_winback",
        instanceId: "i1",
        journeyId: "j",
        userId: "u1",
        idempotencyKey: "i1:node:1",
        quietHours: "defer",
      },
    ]);
  });

  it("maps failures, deferrals and outages", async () => {
    const failed = await run(actionContext(fakeServices({ send: () => ({ status: "failed", reason: "invalid_token" }) })), config);
    expect(failed).toEqual({ output: "failed", detail: { reason: "invalid_token" } });
    const deferred = await run(actionContext(fakeServices({ send: () => ({ status: "deferred", deferUntil: 123, reason: "quiet_hours" }) })), config);
    expect(deferred).toEqual({ deferUntil: 123, reason: "quiet_hours" });
    const down = await run(actionContext(fakeServices({ send: () => Promise.reject(new Error("ECONNREFUSED")) })), config);
    expect(down).toEqual({ retry: { reason: "ECONNREFUSED" } });
  });

  it("fails with template_error without calling the provider", async () => {
    const services = fakeServices();
    const result = await run(actionContext(services), { body: HUGE });
    expect(result).toMatchObject({ output: "failed", detail: { reason: "template_error", field: "body" } });
    expect(services.sent).toEqual([]);
  });
});
