import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app";

const TOKEN = "metrics-token-0123456789abcdef";

describe("GET /metrics", () => {
  let app: TestApp;
  let open: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ serve: true, env: { WAYPOST_METRICS_TOKEN: TOKEN } });
    open = await startTestApp({ serve: true, env: { WAYPOST_METRICS_PUBLIC: "true" } });
  });
  afterAll(async () => {
    await app?.close();
    await open?.close();
  });

  it("refuses scrapes without the bearer token, or with a wrong one", async () => {
    const none = await fetch(`${app.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect((await fetch(`${app.url}/metrics`, { headers: { authorization: "Bearer wrong-token-0123456789abcd" } })).status).toBe(401);
    expect((await fetch(`${app.url}/metrics`, { headers: { authorization: `Basic ${TOKEN}` } })).status).toBe(401);
  });

  it("serves the engine gauges and HTTP request counts with the token", async () => {
    await fetch(`${app.url}/healthz`);
    const res = await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const body = await res.text();
    for (const name of [
      "waypost_engine_due_timers",
      "waypost_engine_oldest_due_lag_seconds",
      "waypost_engine_outbox_pending",
      "waypost_engine_outbox_failed",
      "waypost_engine_steps_last_minute",
      "waypost_engine_failures_last_hour",
      "waypost_engine_active_instances",
    ]) {
      expect(body).toMatch(new RegExp(`^${name} 0$`, "m"));
    }
    expect(body).toMatch(/^waypost_http_requests_total\{method="GET",route="healthz",status="2xx"\} 1$/m);
    expect(body).toMatch(/^waypost_http_requests_total\{method="GET",route="metrics",status="4xx"\} 3$/m);
  });

  it("is open with WAYPOST_METRICS_PUBLIC=true, and off (403) when neither setting is given", async () => {
    expect((await fetch(`${open.url}/metrics`)).status).toBe(200);
    const off = await startTestApp({ serve: true });
    try {
      const res = await fetch(`${off.url}/metrics`);
      expect(res.status).toBe(403);
      expect(await res.text()).toContain("WAYPOST_METRICS_TOKEN");
    } finally {
      await off.close();
    }
  });
});
