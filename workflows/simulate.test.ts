import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildJourney } from "./builder";
import { fareNoticeJourney, firstOrderJourney, registeredNoOrderJourney, winBackJourney } from "./demo-journeys";
import { isHoldout } from "./interpreter";
import { SimulationError, simulate, type Trace } from "./simulate";
import { runSimulateCommand } from "./simulate-cli";
import { policySettingsSchema } from "../nodes/channels/policies/settings";
import { mustCompile } from "./testing";

const path = (trace: Trace, user: string, instance = 0) =>
  trace.users.find((u) => u.userId === user)!.instances[instance].steps.map((s) => [s.nodeId, s.output ?? null, s.enteredAt, s.leftAt ?? null]);

describe("simulate: the four demo journeys", () => {
  it("win-back: 11:00 local send, 2-day wait for an order, 3 more days, then the email", () => {
    expect(isHoldout(mustCompile(winBackJourney(), { journeyId: "demo-win-back" }), "xiaowang")).toBe(false);
    const trace = simulate({
      document: winBackJourney(),
      journeyId: "demo-win-back",
      workspaceTimezone: "Asia/Shanghai",
      users: [{ id: "xiaowang", traits: { name: "小王" }, timezone: "Asia/Shanghai" }],
      timeline: [{ at: "2024-05-06T01:00:00Z", userId: "xiaowang", event: { name: "$segment.entered", properties: { segment: "churned_buyers" } } }],
    });
    expect(path(trace, "xiaowang")).toEqual([
      ["trigger", "next", "2024-05-06T01:00:00.000Z", "2024-05-06T01:00:00.000Z"],
      ["send_time", "next", "2024-05-06T01:00:00.000Z", "2024-05-06T03:00:00.000Z"],
      ["push_winback", "sent", "2024-05-06T03:00:00.000Z", "2024-05-06T03:00:00.000Z"],
      ["wait_order", "timed_out", "2024-05-06T03:00:00.000Z", "2024-05-08T03:00:00.000Z"],
      ["wait_3d", "next", "2024-05-08T03:00:00.000Z", "2024-05-11T03:00:00.000Z"],
      ["email_winback", "sent", "2024-05-11T03:00:00.000Z", "2024-05-11T03:00:00.000Z"],
      ["exit", null, "2024-05-11T03:00:00.000Z", null],
    ]);
    const instance = trace.users[0].instances[0];
    expect(instance.messages.map((m) => [m.nodeId, m.channel, m.at, m.content.title ?? m.content.subject])).toEqual([
      ["push_winback", "push", "2024-05-06T03:00:00.000Z", "我们想你了 · We miss you"],
      ["email_winback", "email", "2024-05-11T03:00:00.000Z", "小王，你的 ¥10 优惠券还在 · Your ¥10 coupon is still here"],
    ]);
    expect(instance.messages[0].content.body).toBe("小王，送你一张 ¥10 优惠券，7 天内有效。A ¥10 coupon is waiting for you.");
    // Watched for the goal until 7 days after entry.
    expect(instance).toMatchObject({ status: "completed", reason: "exit_node", completedAt: "2024-05-13T01:00:00.000Z" });
  });

  it("registered, no order: the 红包 SMS 24 h after sign-up", () => {
    const trace = simulate({
      document: registeredNoOrderJourney(),
      users: [{ id: "u1", traits: {}, timezone: "Asia/Shanghai" }],
      timeline: [{ at: "2024-05-06T02:00:00Z", userId: "u1", event: { name: "signed_up", properties: {} } }],
    });
    expect(path(trace, "u1").map(([node, output]) => [node, output])).toEqual([
      ["trigger", "next"],
      ["wait_order", "timed_out"],
      ["sms_hongbao", "sent"],
      ["exit", null],
    ]);
    const sms = trace.users[0].instances[0].messages[0];
    expect(sms).toMatchObject({ channel: "sms", at: "2024-05-07T02:00:00.000Z", status: "sent", category: "marketing" });
    expect(sms.content.body).toBe("【Waypost】新朋友，送你一个新人红包🧧，下单立减 ¥15，打开 App 领取：https://wp.example/app/hongbao 回TD退订");
  });

  it("first order: bundle coupon after 24 h, reminder 3 days before replenish_at at 10:00", () => {
    const trace = simulate({
      document: firstOrderJourney(),
      users: [{ id: "u1", traits: { replenish_at: "2024-06-01" }, timezone: "Asia/Shanghai" }],
      timeline: [
        { at: "2024-05-06T02:00:00Z", userId: "u1", event: { name: "order_completed", properties: { order_count: 2 } } },
        { at: "2024-05-06T03:00:00Z", userId: "u1", event: { name: "order_completed", properties: { order_count: 1 } } },
      ],
      until: "2024-06-10T00:00:00Z",
    });
    expect(trace.users[0].instances).toHaveLength(1);
    expect(trace.users[0].instances[0].messages.map((m) => [m.nodeId, m.at])).toEqual([
      ["push_bundle", "2024-05-07T03:00:00.000Z"],
      ["push_reminder", "2024-05-29T02:00:00.000Z"],
    ]);
    // Still watched for a second order until 60 days after entry.
    expect(trace.users[0].instances[0]).toMatchObject({ status: "waiting", waiting: { nodeId: "exit", kind: "event", until: "2024-07-05T03:00:00.000Z" } });
  });

  it("fare notice: the ride's fare in the copy, once per ride", () => {
    const ride = (at: string, fare: number) => ({ at, userId: "rider", event: { name: "ride_completed", properties: { fare, from_station: "人民广场", to_station: "陆家嘴" } } });
    const trace = simulate({ document: fareNoticeJourney(), users: [{ id: "rider", traits: {} }], timeline: [ride("2024-05-06T01:00:00Z", 4), ride("2024-05-06T09:00:00Z", 6)] });
    expect(trace.users[0].instances.map((i) => i.messages[0].content.body)).toEqual([
      "本次乘车 人民广场 → 陆家嘴，扣费 ¥4。Fare ¥4 deducted.",
      "本次乘车 人民广场 → 陆家嘴，扣费 ¥6。Fare ¥6 deducted.",
    ]);
    expect(trace.nodeCounts).toEqual({ trigger: { entered: 2, left: { next: 2 } }, push_fare: { entered: 2, left: { sent: 2 } }, exit: { entered: 2, left: {} } });
  });
});

describe("simulate: mechanics", () => {
  const updateThenPush = buildJourney({
    name: "update then push",
    settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "api" } },
      { id: "upd", type: "core.update-user", config: { operations: [{ op: "set", trait: "name", value: "VIP 用户" }] } },
      { id: "push", type: "core.push", config: { body: "Hi {{ user.name }}" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "upd"],
      ["upd", "next", "push"],
      ["upd", "failed", "exit"],
      ["push", "sent", "exit"],
      ["push", "failed", "exit"],
    ],
  });
  const api = { at: "2024-05-06T00:00:00Z", userId: "u", event: { name: "$api.trigger", properties: {} } };

  it("applies profile updates so later templates see them", () => {
    const trace = simulate({ document: updateThenPush, users: [{ id: "u", traits: { name: "old" } }], timeline: [api] });
    expect(trace.users[0].instances[0].messages[0].content.body).toBe("Hi VIP 用户");
    expect(trace.users[0].instances[0].actions.map((a) => [a.nodeId, a.result])).toEqual([
      ["upd", { output: "next" }],
      ["push", { output: "sent", detail: { messageId: "sim-sim:u:1:push:1" } }],
    ]);
  });

  it("reports users still waiting at the end of the simulated period", () => {
    const trace = simulate({
      document: registeredNoOrderJourney(),
      users: [{ id: "u1", traits: {} }],
      timeline: [{ at: "2024-05-06T02:00:00Z", userId: "u1", event: { name: "signed_up", properties: {} } }],
      until: "2024-05-06T12:00:00Z",
    });
    expect(trace.users[0].instances[0]).toMatchObject({ status: "waiting", waiting: { nodeId: "wait_order", kind: "event", until: "2024-05-07T02:00:00.000Z" } });
    expect(trace.until).toBe("2024-05-06T12:00:00.000Z");
  });

  it("is deterministic", () => {
    const input = { document: winBackJourney(), users: [{ id: "a", traits: {} }], timeline: [{ at: "2024-05-06T01:00:00Z", userId: "a", event: { name: "$segment.entered", properties: { segment: "churned_buyers" } } }] };
    expect(simulate(input)).toEqual(simulate(input));
  });

  it("refuses journeys that do not compile, listing the problems", () => {
    const broken = { ...fareNoticeJourney(), edges: [] };
    expect(() => simulate({ document: broken, users: [], timeline: [] })).toThrow(SimulationError);
    try {
      simulate({ document: broken, users: [], timeline: [] });
    } catch (error) {
      expect((error as SimulationError).errors.map((e) => e.code)).toContain("dangling_port");
    }
  });

  it("counts a version switch: new entries use the new version", () => {
    const v2 = { ...fareNoticeJourney(), name: "v2" };
    const ride = (at: string) => ({ at, userId: "r", event: { name: "ride_completed", properties: {} } });
    const trace = simulate({ document: fareNoticeJourney(), versions: [{ at: "2024-05-06T05:00:00Z", document: v2 }], users: [], timeline: [ride("2024-05-06T01:00:00Z"), ride("2024-05-06T06:00:00Z")] });
    expect(trace.users[0].instances.map((i) => i.version)).toEqual([0, 1]);
    expect(trace.versions.map((v) => v.from)).toEqual([null, "2024-05-06T05:00:00.000Z"]);
    expect(new Set(trace.records.map((r) => r.version))).toEqual(new Set([0, 1]));
  });
});

describe("waypost simulate (command body)", () => {
  async function files(journey: unknown, timeline: unknown) {
    const dir = await mkdtemp(join(tmpdir(), "waypost-sim-"));
    await writeFile(join(dir, "journey.json"), JSON.stringify(journey));
    await writeFile(join(dir, "timeline.json"), JSON.stringify(timeline));
    return [join(dir, "journey.json"), join(dir, "timeline.json")] as const;
  }

  it("prints a JSON trace for a journey and a timeline file", async () => {
    const [journey, timeline] = await files(fareNoticeJourney(), {
      users: [{ id: "rider", traits: {}, timezone: "Asia/Shanghai" }],
      timeline: [{ at: "2024-05-06T01:00:00Z", userId: "rider", event: { name: "ride_completed", properties: { fare: 3 } } }],
    });
    const trace = JSON.parse(await runSimulateCommand(journey, timeline)) as Trace;
    expect(trace.users[0].instances[0].messages[0]).toMatchObject({ nodeId: "push_fare", at: "2024-05-06T01:00:00.000Z", status: "sent" });
  });

  it("applies sending policies: the workspace's, or the timeline file's own, as the engine would", async () => {
    // registered-no-order sends a marketing SMS 24 h after sign-up: 09:00 in Shanghai, inside the
    // workspace's quiet hours below (08:00–12:00), so it is held until 12:00.
    const base = {
      users: [
        { id: "night", traits: {}, timezone: "Asia/Shanghai", consent: { sms: { marketing: true } } },
        { id: "no-phone", traits: {}, timezone: "Asia/Shanghai", consent: { sms: { marketing: true } }, reachable: { sms: false } },
        { id: "no-consent", traits: {}, timezone: "Asia/Shanghai" },
      ],
      timeline: ["night", "no-phone", "no-consent"].map((userId) => ({ at: "2024-05-06T01:00:00Z", userId, event: { name: "signed_up" } })),
      workspaceTimezone: "Asia/Shanghai",
    };
    const messagesOf = (trace: Trace) => Object.fromEntries(trace.users.map((u) => [u.userId, u.instances[0]?.messages.map((m) => `${m.status}:${m.reason ?? ""}@${m.at}`)]));
    const [journey, timeline] = await files(registeredNoOrderJourney(), base);
    const workspace = policySettingsSchema.parse({ quietHours: { start: "08:00", end: "12:00" } });
    const withWorkspace = messagesOf(JSON.parse(await runSimulateCommand(journey, timeline, { workspacePolicies: workspace })) as Trace);
    const without = messagesOf(JSON.parse(await runSimulateCommand(journey, timeline)) as Trace);
    expect(withWorkspace).toEqual({
      night: ["deferred:quiet_hours@2024-05-07T01:00:00.000Z", "sent:@2024-05-07T04:00:00.000Z"],
      "no-phone": ["failed:missing_address@2024-05-07T01:00:00.000Z"],
      "no-consent": ["failed:no_consent@2024-05-07T01:00:00.000Z"],
    });
    expect(without.night).toEqual(["sent:@2024-05-07T01:00:00.000Z"]);
    // The file's own policies win over the workspace's.
    const [, ownTimeline] = await files(registeredNoOrderJourney(), { ...base, policies: { quietHours: { enabled: false } } });
    expect(messagesOf(JSON.parse(await runSimulateCommand(journey, ownTimeline, { workspacePolicies: workspace })) as Trace)["night"]).toEqual(without["night"]);
  });

  it("accepts an exported journey ({ document }) and a bare list of events", async () => {
    const [journey, timeline] = await files({ document: fareNoticeJourney() }, [{ at: "2024-05-06T01:00:00Z", userId: "r", event: { name: "ride_completed" } }]);
    const trace = JSON.parse(await runSimulateCommand(journey, timeline)) as Trace;
    expect(trace.users.map((u) => u.userId)).toEqual(["r"]);
  });

  it("names the bad field of an invalid timeline", async () => {
    const [journey, timeline] = await files(fareNoticeJourney(), { timeline: [{ at: "2024-05-06T01:00:00Z", event: { name: "x" } }] });
    await expect(runSimulateCommand(journey, timeline)).rejects.toThrow(/timeline\.0\.userId/);
    await expect(runSimulateCommand("/nonexistent/journey.json", timeline)).rejects.toThrow(/cannot read journey/);
  });
});
