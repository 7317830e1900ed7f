import { describe, expect, it } from "vitest";
import { actionContext, fakeServices } from "../testing";
import { webhookConfigSchema, webhookNode } from "./definition";
import { run } from "./runtime.server";

const config = {
  url: "https://crm.example.com/users/{{ user.id }}/coupons",
  method: "POST",
  headers: { Authorization: "Bearer secret", "X-User": "{{ user.name }}" },
  body: '{"user":"{{ user.id }}","coupon":"WINBACK10"}',
};

describe("example.webhook", () => {
  it("is a custom node with a namespaced id and a migration", () => {
    expect(webhookNode).toMatchObject({ type: "example.webhook", version: 2, kind: "action", category: "custom" });
    expect(webhookNode.summary(webhookConfigSchema.parse(config), "en")).toBe("POST https://crm.example.com/users/{{ user.id }}/coupons");
    expect(webhookNode.migrate!({ url: "u", headers: [{ name: "A", value: "1" }] }, 1)).toEqual({ url: "u", headers: { A: "1" } });
    expect(webhookConfigSchema.safeParse(webhookNode.defaults).success).toBe(false);
  });

  it("calls the endpoint with rendered values and an Idempotency-Key", async () => {
    const services = fakeServices({ fetch: () => ({ status: 201 }) });
    const result = await run(actionContext(services, { idempotencyKey: "i1:hook:2" }), config);
    expect(result).toEqual({ output: "success", detail: { status: 201 } });
    expect(services.requests).toEqual([
      {
        url: "https://crm.example.com/users/u1/coupons",
        method: "POST",
        headers: { Authorization: "Bearer secret", "X-User": "小王", "Idempotency-Key": "i1:hook:2", "Content-Type": "application/json" },
        body: '{"user":"u1","coupon":"WINBACK10"}',
      },
    ]);
  });

  it("retries on 5xx, 429 and network errors; fails on other 4xx", async () => {
    expect(await run(actionContext(fakeServices({ fetch: () => ({ status: 503 }) })), config)).toEqual({ retry: { reason: "http_503" } });
    expect(await run(actionContext(fakeServices({ fetch: () => ({ status: 429 }) })), config)).toEqual({ retry: { reason: "http_429" } });
    expect(await run(actionContext(fakeServices({ fetch: () => Promise.reject(new Error("ETIMEDOUT")) })), config)).toEqual({ retry: { reason: "ETIMEDOUT" } });
    expect(await run(actionContext(fakeServices({ fetch: () => ({ status: 404 }) })), config)).toEqual({ output: "failed", detail: { reason: "http_404", status: 404 } });
  });

  it("sends no body on GET and refuses non-HTTP URLs", async () => {
    const services = fakeServices();
    await run(actionContext(services), { ...config, method: "GET" });
    expect(services.requests[0].body).toBeUndefined();
    expect(services.requests[0].headers["Content-Type"]).toBeUndefined();
    expect(await run(actionContext(fakeServices()), { ...config, url: "file:///etc/passwd" })).toEqual({ output: "failed", detail: { reason: "invalid_url", url: "file:///etc/passwd" } });
  });
});
