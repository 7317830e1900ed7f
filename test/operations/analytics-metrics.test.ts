import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../app/config.server";
import { createLogger } from "../../app/lib/log.server";
import { ensureDefaultWorkspace } from "../../app/lib/accounts.server";
import { createMetrics } from "../../cli/metrics";
import { query } from "../../db/client";
import { createTestDb, testDatabaseKind, type TestDb } from "../support/db";

/**
 * Prometheus totals from the analytics rollups: time-zone fallbacks and message failures by
 * channel and reason, including a failure the channels reported after the send that no delivery
 * wait recorded, and not counting twice one that a delivery wait did record (decision 0250).
 */
describe(`Prometheus totals from the rollups (${testDatabaseKind()})`, () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    await db.drop();
  });

  it("counts time-zone fallbacks and failures by reason, late failures once", async () => {
    const workspace = await ensureDefaultWorkspace(db.db);
    const journey = randomUUID();
    const version = randomUUID();
    const instance = randomUUID();
    await query(
      db.db,
      sql`insert into journey_instances (id, workspace_id, journey_id, version_id, user_id, entry_key, status, state, entered_at, updated_at)
          values (${instance}::uuid, ${workspace.id}::uuid, ${journey}::uuid, ${version}::uuid, 'u-1', 'k', 'active', '{}'::jsonb, now(), now())`,
    );
    const event = (seq: number, kind: string, extra: { status?: string; channel?: string; reason?: string }) =>
      sql`(${instance}::uuid, ${seq}, ${workspace.id}::uuid, ${journey}::uuid, ${version}::uuid, 'u-1', 'sms', ${kind}, null, ${extra.reason ?? null}, ${extra.status ?? null}, ${extra.channel ?? null}, now())`;
    await query(
      db.db,
      sql`insert into journey_node_events (instance_id, seq, workspace_id, journey_id, version_id, user_id, node_id, kind, output, reason, message_status, channel, at)
          values ${sql.join(
            [
              event(1, "tz_fallback", { reason: "invalid" }),
              event(2, "tz_fallback", { reason: "missing" }),
              event(3, "tz_fallback", { reason: "missing" }),
              event(4, "message", { status: "failed", channel: "sms", reason: "provider_rejected" }),
              // A delivery wait saw this bounce, and the channels reported it too: one failure.
              event(5, "message", { status: "delivery_failed", channel: "sms", reason: "bounced" }),
              event(-6, "delivery", { status: "delivery_failed", channel: "sms", reason: "bounced" }),
              // Only the channels heard of this one (no delivery wait): still a failure.
              event(-7, "delivery", { status: "delivery_failed", channel: "push", reason: "invalid_token" }),
            ],
            sql`, `,
          )}`,
    );
    const { registry } = createMetrics({ config: loadConfig({ WAYPOST_LOG_LEVEL: "silent", NODE_ENV: "test" }), database: db, db: db.db, log: createLogger("silent"), now: () => new Date() });
    const body = await registry.metrics();
    expect(body).toMatch(/^waypost_timezone_fallbacks_total\{reason="missing"\} 2$/m);
    expect(body).toMatch(/^waypost_timezone_fallbacks_total\{reason="invalid"\} 1$/m);
    expect(body).toMatch(/^waypost_message_failures_total\{channel="sms",reason="provider_rejected"\} 1$/m);
    expect(body).toMatch(/^waypost_message_failures_total\{channel="sms",reason="bounced"\} 1$/m);
    expect(body).toMatch(/^waypost_message_failures_total\{channel="push",reason="invalid_token"\} 1$/m);
    // Scraped again: the same totals, not added up twice.
    expect(await registry.metrics()).toMatch(/^waypost_timezone_fallbacks_total\{reason="missing"\} 2$/m);
  });
});
