import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import { apiErrorSchema, journeyPublishResponseSchema } from "../../app/api/schemas";
import { createApiKey } from "../../app/lib/auth.server";
import { createJourney, getJourney, publishJourney } from "../../app/lib/journeys.server";
import { buildJourney } from "../../workflows/builder";
import { startTestApp, type TestApp } from "../support/app";

// Publish checks on a real database: what will fail refuses the publish and names its node (in
// tRPC's errors and the REST 422), what the operator should know comes back as warnings —
// a channel with no provider, event and trait names no data has carried.

let app: TestApp;
let secret: string;
const ctx = () => ({ workspaceId: app.workspaceId });

beforeAll(async () => {
  app = await startTestApp({ serve: true });
  secret = (await createApiKey(app.services.db, { workspaceId: app.workspaceId, kind: "secret", name: "ci" })).key;
  await query(app.services.db, sql`insert into users (workspace_id, id, traits) values (${app.workspaceId}::uuid, 'u1', '{"vip_level": 3}'::jsonb)`);
  await query(
    app.services.db,
    sql`insert into events (workspace_id, user_id, message_id, type, name, properties, timestamp, received_at)
        values (${app.workspaceId}::uuid, 'u1', 'm1', 'track', 'order_completed', '{}'::jsonb, now(), now())`,
  );
});
afterAll(() => app?.close());

function journey(name: string, opts: { smsBody?: string; event?: string; trait?: string } = {}) {
  return buildJourney({
    name,
    settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "event", event: opts.event ?? "order_completed", filters: [] } },
      { id: "vip", type: "core.condition", label: "VIP?", config: { mode: "yes_no", rules: [{ kind: "trait", trait: opts.trait ?? "vip_level", op: "gte", value: 2 }] } },
      { id: "sms", type: "core.sms", label: "Thank-you SMS", config: { body: opts.smsBody ?? "谢谢惠顾，回TD退订" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "vip"],
      ["vip", "yes", "sms"],
      ["vip", "no", "exit"],
      ["sms", "sent", "exit"],
      ["sms", "failed", "exit"],
    ],
  });
}

async function publishOver(path: string, id: string) {
  const res = await fetch(`${app.url}/api/v1/journeys/${id}/${path}`, { method: "POST", headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" }, body: "{}" });
  return { status: res.status, body: (await res.json()) as unknown };
}

describe("publish checks", () => {
  it("known names and no provider: publishes with the sandbox warning naming the SMS node", async () => {
    const { id } = await createJourney(app.services.db, ctx(), { name: "thanks", document: journey("thanks") });
    const result = await publishJourney(app.services.db, ctx(), { journeyId: id });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.warnings.map((w) => [w.code, w.nodeId])).toEqual([["no_provider", "sms"]]);
    expect(result.warnings[0]!.message.zh).toContain("设置 → 渠道");
  });

  it("with a provider chosen, the warning goes away", async () => {
    await query(app.services.db, sql`insert into channel_settings (workspace_id, kind, provider) values (${app.workspaceId}::uuid, 'sms', 'sandbox')`);
    const { id } = await createJourney(app.services.db, ctx(), { name: "thanks 2", document: journey("thanks 2") });
    const result = await publishJourney(app.services.db, ctx(), { journeyId: id });
    expect(result.ok && result.warnings).toEqual([]);
  });

  it("an event or trait no data carries is a warning on the node that reads it", async () => {
    const { id } = await createJourney(app.services.db, ctx(), { name: "typos", document: journey("typos", { event: "order_compleated", trait: "vip_levle" }) });
    const result = await publishJourney(app.services.db, ctx(), { journeyId: id });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.warnings.map((w) => [w.code, w.nodeId, w.path])).toEqual([
      ["unknown_name", "trigger", "event"],
      ["unknown_name", "vip", "rules.0.trait"],
    ]);
    expect(result.warnings[0]!.message.en).toContain('"order_compleated"');
  });

  it("an over-length SMS refuses the publish; the REST answer names the node and states the limit, and nothing is published", async () => {
    const { id } = await createJourney(app.services.db, ctx(), { name: "too long", document: journey("too long", { smsBody: "优".repeat(15_003) }) });
    const result = await publishJourney(app.services.db, ctx(), { journeyId: id });
    expect(result.ok).toBe(false);
    const res = await publishOver("publish", id);
    expect(res.status).toBe(422);
    const error = apiErrorSchema.parse(res.body).error;
    expect(error.issues).toEqual([
      { path: "nodes.sms.body", message: expect.stringMatching(/^too_long: “Thank-you SMS” \(sms\): The body is 15,003 characters .* at most 500/) },
    ]);
    expect((await getJourney(app.services.db, app.workspaceId, id)).status).toBe("draft");
  });

  it("compile errors over REST name the node too, and warnings come back with a successful publish", async () => {
    const doc = journey("orphan");
    doc.nodes.push({ ...doc.nodes.find((n) => n.id === "exit")!, id: "orphan", label: "Forgotten exit" });
    const { id } = await createJourney(app.services.db, ctx(), { name: "orphan", document: doc });
    const refused = apiErrorSchema.parse((await publishOver("publish", id)).body).error;
    expect(refused.issues).toContainEqual({ path: "nodes.orphan", message: "unreachable: “Forgotten exit” (orphan): No path from the trigger reaches this node" });

    const { id: ok } = await createJourney(app.services.db, ctx(), { name: "typo 2", document: journey("typo 2", { event: "app_opend" }) });
    const published = await publishOver("publish", ok);
    expect(published.status).toBe(200);
    expect(journeyPublishResponseSchema.parse(published.body).warnings).toEqual([
      { path: "nodes.trigger.event", message: expect.stringContaining('warning: “Trigger” (trigger): No event named "app_opend"') },
    ]);
  });
});
