import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import { policySettingsSchema } from "../../nodes/channels/policies/settings";
import { createSandboxProvider } from "../../nodes/channels/sandbox/provider";
import { createMessagingService, type MessagingService } from "../../nodes/channels/send.server";
import { upsertDeviceToken } from "../../nodes/channels/store.server";
import { buildJourney } from "../../workflows/builder";
import { simulate, type SimUser } from "../../workflows/simulate";
import { createHarness, type EngineHarness } from "../engine/support";
import { observe, type Observation } from "./format";

// The test run and the engine take the same sending decision. One journey and one policy set run
// (a) through the simulator the canvas test run and `waypost simulate` use, with the workspace's
// policies, and (b) through the embedded engine on a real database with the real send path
// (nodes/channels/send.server.ts, sandbox provider, policies, cap counters in PostgreSQL). Paths,
// message times and outcomes must be identical — and match what we expect — for quiet hours
// (defer and skip), consent, a frequency cap, a missing address and a transactional fallback.

const HOUR = 3_600_000;
const ZONE = "Asia/Shanghai";

const policy = policySettingsSchema.parse({
  marketingConsent: { push: "opt-out", sms: "opt-in", email: "opt-in" },
  quietHours: { enabled: true, start: "21:00", end: "08:00" },
  frequencyCaps: [{ channel: "push", category: "marketing", limit: 1, period: "day" }],
});

const document = buildJourney({
  name: "召回 · win-back with policies",
  settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
  nodes: [
    { id: "trigger", type: "core.trigger", config: { source: "event", event: "lapsed", filters: [] } },
    { id: "push", type: "core.push", config: { title: "好久不见", body: "送你一张券", quietHours: "defer" } },
    { id: "wait", type: "core.wait", config: { mode: "duration", duration: { amount: 12, unit: "hours" } } },
    { id: "sms", type: "core.sms", config: { body: "【Waypost】券快过期了 回TD退订", quietHours: "skip" } },
    { id: "email", type: "core.email", config: { subject: "Your coupon", html: "<p>Coupon</p>", category: "transactional" } },
    { id: "exit", type: "core.exit", config: {} },
  ],
  edges: [
    ["trigger", "next", "push"],
    ["push", "sent", "wait"],
    ["push", "failed", "email"],
    ["wait", "next", "sms"],
    ["sms", "sent", "exit"],
    ["sms", "failed", "email"],
    ["email", "sent", "exit"],
    ["email", "failed", "exit"],
  ],
});

interface Person {
  id: string;
  smsConsent: boolean;
  token: boolean;
}
const people: Person[] = [
  { id: "day", smsConsent: true, token: true },
  { id: "night", smsConsent: true, token: true },
  { id: "no-consent", smsConsent: false, token: true },
  { id: "capped", smsConsent: true, token: true },
  { id: "no-token", smsConsent: true, token: false },
];
const start = Date.parse("2024-05-06T00:00:00.000Z");
const until = start + 3 * 24 * HOUR;
const timeline = [
  { at: "2024-05-06T02:00:00.000Z", userId: "day" }, // 10:00 local
  { at: "2024-05-06T15:00:00.000Z", userId: "night" }, // 23:00 local: the push waits for 08:00
  { at: "2024-05-06T00:30:00.000Z", userId: "no-consent" },
  { at: "2024-05-06T02:00:00.000Z", userId: "capped" },
  { at: "2024-05-06T03:00:00.000Z", userId: "capped" }, // a second push the same local day
  { at: "2024-05-06T04:00:00.000Z", userId: "no-token" },
].map((e) => ({ ...e, event: { name: "lapsed", properties: {} } }));

const simUsers: SimUser[] = people.map((p) => ({
  id: p.id,
  traits: {},
  timezone: ZONE,
  consent: { sms: { marketing: p.smsConsent } },
  reachable: { push: p.token },
}));

function onSimulator(): Observation & { reasons: Record<string, string[]> } {
  const trace = simulate({ document, users: simUsers, timeline, start, until, workspaceTimezone: ZONE, journeyId: "policies-match", policies: policy });
  const reasons: Record<string, string[]> = {};
  for (const u of trace.users) for (const i of u.instances) for (const m of i.messages) if (m.status === "failed") (reasons[u.userId] ??= []).push(`${m.nodeId}:${m.reason}`);
  for (const list of Object.values(reasons)) list.sort();
  return { ...observe(trace.records), reasons };
}

let h: EngineHarness;
let messaging: MessagingService;
let engineRun: Observation & { reasons: Record<string, string[]> };

beforeAll(async () => {
  h = await createHarness({ start, timezone: ZONE, engine: { actionServices: (workspaceId) => ({ sendMessage: messaging.forWorkspace(workspaceId) }) } });
  messaging = createMessagingService({
    db: h.db.db,
    providers: async (_workspace, channel) => ({ provider: createSandboxProvider(channel), options: {} }),
    policies: async () => policy,
    now: h.clock.now,
    emitEvent: (e) =>
      h.engine.handleEvents([{ workspaceId: e.workspaceId, userId: e.userId, messageId: e.messageId, name: e.name, properties: { ...e.properties }, timestamp: e.timestamp.getTime() }]),
  });
  await h.insertUsers(people.map((p) => ({ id: p.id, traits: {}, timezone: ZONE })));
  for (const p of people) {
    await query(
      h.db.db,
      sql`update users set phone = ${"+8613800000" + String(people.indexOf(p)).padStart(3, "0")}, email = ${`${p.id}@example.com`},
            consent = ${JSON.stringify({ sms: { marketing: p.smsConsent } })}::jsonb
          where workspace_id = ${h.workspaceId} and id = ${p.id}`,
    );
    if (p.token) await upsertDeviceToken(h.db.db, { workspaceId: h.workspaceId, userId: p.id, token: `token-${p.id}`, platform: "android" });
  }
  const { journeyId } = await h.publish(document, { programId: "policies-match" });
  await h.engine.runUntilIdle();

  const entries = timeline.map((e) => ({ ...e, at: Date.parse(e.at) })).sort((a, b) => a.at - b.at);
  let t = 0;
  for (;;) {
    const due = await h.engine.nextDueAt();
    const next = Math.min(entries[t]?.at ?? Infinity, due ?? Infinity);
    if (!Number.isFinite(next) || next > until) break;
    h.clock.set(Math.max(next, h.clock.ms));
    while (entries[t] && entries[t]!.at <= h.clock.ms) {
      const entry = entries[t++]!;
      await h.engine.handleEvents([await h.storeEvent(entry.userId, entry.event.name, {}, h.clock.ms)]);
      await h.engine.runUntilIdle({ timers: false, schedules: false });
    }
    while ((await h.engine.runUntilIdle()) > 0);
  }
  const failed = await query<{ user_id: string; node_id: string; failure_reason: string }>(
    h.db.db,
    sql`select user_id, node_id, failure_reason from messages where workspace_id = ${h.workspaceId} and state = 'failed' order by created_at, user_id, node_id`,
  );
  const reasons: Record<string, string[]> = {};
  for (const f of failed) (reasons[f.user_id] ??= []).push(`${f.node_id}:${f.failure_reason}`);
  for (const list of Object.values(reasons)) list.sort();
  engineRun = { ...observe(await h.records(journeyId)), reasons };
});
afterAll(() => h?.close());

describe("test run = engine: the same sending policies on the simulator and the embedded engine", () => {
  it("paths, message times and failure reasons are identical", () => {
    const simulated = onSimulator();
    expect(simulated.paths).toEqual(engineRun.paths);
    expect(simulated.messages).toEqual(engineRun.messages);
    expect(simulated.outcomes).toEqual(engineRun.outcomes);
    expect(simulated.nodeCounts).toEqual(engineRun.nodeCounts);
    expect(simulated.reasons).toEqual(engineRun.reasons);
  });

  it("and they are what the policies say", () => {
    expect(engineRun.paths).toEqual({
      day: [["trigger:next", "push:sent", "wait:next", "sms:failed", "email:sent", "exit"]],
      night: [["trigger:next", "push:sent", "wait:next", "sms:sent", "exit"]],
      "no-consent": [["trigger:next", "push:sent", "wait:next", "sms:failed", "email:sent", "exit"]],
      capped: [
        ["trigger:next", "push:sent", "wait:next", "sms:failed", "email:sent", "exit"],
        ["trigger:next", "push:failed", "email:sent", "exit"],
      ],
      "no-token": [["trigger:next", "push:failed", "email:sent", "exit"]],
    });
    expect(engineRun.reasons).toEqual({
      day: ["sms:quiet_hours"],
      "no-consent": ["sms:no_consent"],
      capped: ["push:frequency_capped", "sms:quiet_hours"],
      "no-token": ["push:missing_address"],
    });
    // The night push waited for the end of quiet hours (08:00 in Shanghai).
    expect(engineRun.messages.filter((m) => m.user === "night" && m.node === "push")).toEqual([{ user: "night", node: "push", channel: "push", at: "2024-05-07T00:00:00.000Z", status: "sent" }]);
  });
});
