import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import { startTestApp, type TestApp } from "../support/app";

/** The engine's lag and its alert threshold in /metrics (decision 1003), and /readyz agreeing with them. */

const TOKEN = "metrics-token-0123456789abcdef";

describe("engine lag alert in /metrics", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ serve: true, env: { WAYPOST_METRICS_TOKEN: TOKEN, WAYPOST_ENGINE_LAG_ALERT_SECONDS: "60" } });
  });
  afterAll(() => app?.close());

  const scrape = async () => (await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();

  it("shows the threshold, and the alert only once the oldest due timer is later than it", async () => {
    let body = await scrape();
    expect(body).toMatch(/^waypost_engine_lag_alert_threshold_seconds 60$/m);
    expect(body).toMatch(/^waypost_engine_lag_alert 0$/m);
    expect((await fetch(`${app.url}/readyz`)).status).toBe(200);

    const late = new Date(Date.now() - 5 * 60_000).toISOString();
    await query(app.services.db, sql`insert into journey_timers (wake_at, instance_id) values (${late}::timestamptz, gen_random_uuid())`);
    body = await scrape();
    expect(body).toMatch(/^waypost_engine_lag_alert 1$/m);
    const lag = Number(/^waypost_engine_oldest_due_lag_seconds (\S+)$/m.exec(body)?.[1]);
    expect(lag).toBeGreaterThan(60);
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: "not_ready", engine: { ok: false } });
    expect(await scrape()).toMatch(/^waypost_http_requests_total\{method="GET",route="readyz",status="5xx"\} 1$/m);
  });
});
