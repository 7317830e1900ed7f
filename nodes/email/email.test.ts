import { describe, expect, it } from "vitest";
import { summarizeNode } from "../define";
import { actionContext, fakeServices } from "../testing";
import { emailConfigSchema, emailNode } from "./definition";
import { run } from "./runtime.server";

const config = { subject: "{{ user.name }}，你的优惠券还在", html: "<p>Hi {{ user.name }}</p>", text: "Hi {{ user.name }}", category: "transactional" };

describe("core.email", () => {
  it("needs a subject and a body", () => {
    expect(summarizeNode(emailNode, emailNode.defaults, "en")).toBe("Email · not configured");
    expect(emailNode.summary(emailConfigSchema.parse(config), "en")).toBe("Email · …，你的优惠券还在");
  });

  it("sends subject, html and text rendered for the user", async () => {
    const services = fakeServices();
    expect(await run(actionContext(services), config)).toEqual({ output: "sent", detail: { messageId: "m-1" } });
    expect(services.sent[0]).toMatchObject({
      channel: "email",
      category: "transactional",
      content: { subject: "小王，你的优惠券还在", html: "<p>Hi 小王</p>", text: "Hi 小王" },
    });
  });

  it("passes the entry event to templates", () => {
    const preview = emailNode.preview!(emailConfigSchema.parse({ subject: "Order {{ event.properties.order_id }}", html: "{{ event.name }}" }), {
      user: { id: "u", traits: {} },
      event: { name: "order_completed", properties: { order_id: "A-1" } },
    });
    expect(preview.fields).toEqual({ subject: "Order A-1", html: "order_completed" });
  });
});
