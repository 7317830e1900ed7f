import { describe, expect, it } from "vitest";
import { actionContext, fakeServices } from "../testing";
import { smsConfigSchema, smsNode } from "./definition";
import { run } from "./runtime.server";

const config = {
  body: '【Waypost】{{ user.name | default: "新朋友" }}，送你一个新人红包🧧 https://wp.example/app/hongbao 回TD退订',
  signName: "Waypost",
  templateCode: "SMS_123",
  templateParams: { name: '{{ user.name | default: "新朋友" }}' },
};

describe("core.sms", () => {
  it("summarises and previews, template params included", () => {
    const parsed = smsConfigSchema.parse(config);
    expect(parsed.category).toBe("marketing");
    expect(smsNode.summary(parsed, "zh")).toBe("短信 · 【Waypost】…，送你一个新…");
    const preview = smsNode.preview!(parsed, { user: { id: "u", traits: {} } });
    expect(preview.fields).toEqual({
      body: "【Waypost】新朋友，送你一个新人红包🧧 https://wp.example/app/hongbao 回TD退订",
      "param.name": "新朋友",
      signName: "Waypost",
      templateCode: "SMS_123",
    });
    expect(preview.counts?.body).toBe(59);
  });

  it("sends through the channels service", async () => {
    const services = fakeServices();
    expect(await run(actionContext(services), config)).toEqual({ output: "sent", detail: { messageId: "m-1" } });
    expect(services.sent[0]).toMatchObject({ channel: "sms", category: "marketing", content: { "param.name": "小王", templateCode: "SMS_123" } });
    expect(services.sent[0].quietHours).toBeUndefined();
  });
});
