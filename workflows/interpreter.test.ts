import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineNode } from "../nodes/define";
import { getNodeDefinition } from "../nodes/registry";
import type { UserSnapshot } from "../nodes/runtime";
import { buildJourney, type EdgeSpec, type NodeSpec } from "./builder";
import type { JourneyDocumentInput } from "./document";
import {
  InterpreterError,
  RETRY_POLICY,
  awaitedMatchers,
  backoffMs,
  isHoldout,
  step,
  wakeAt,
  type Command,
  type Input,
  type InstanceState,
} from "./interpreter";
import type { JourneyProgram } from "./program";
import { bodiesOf, isWellFormed, mustCompile, nonRecords, recordsOf } from "./testing";

const T0 = Date.parse("2024-05-01T00:00:00Z");
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const alice: UserSnapshot = { id: "alice", traits: { name: "Alice", plan: "gold" }, timezone: "Asia/Shanghai" };

function doc(nodes: NodeSpec[], edges: EdgeSpec[], settings: Partial<JourneyDocumentInput["settings"]> = {}): JourneyDocumentInput {
  return buildJourney({ name: "test", settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [], ...settings }, nodes, edges });
}

const trigger: NodeSpec = { id: "trigger", type: "core.trigger", config: { source: "event", event: "signed_up", filters: [] } };
const exit: NodeSpec = { id: "exit", type: "core.exit", config: {} };
const push = (id: string, extra: Record<string, unknown> = {}): NodeSpec => ({
  id,
  type: "core.push",
  config: { title: "Hi", body: "Hello {{ user.name }}", category: "marketing", ...extra },
});

function start(program: JourneyProgram, now = T0, user = alice) {
  return step(program, null, { type: "start", now, user, instanceId: "i1", workspaceTimezone: "Asia/Shanghai", event: { name: "signed_up", properties: {} } });
}

function feed(program: JourneyProgram, state: InstanceState, input: Input) {
  const result = step(program, state, input);
  expect(isWellFormed(result.state)).toBe(true);
  return result;
}

function runCommand(commands: Command[]) {
  const run = commands.find((c) => c.type === "run");
  if (!run || run.type !== "run") throw new Error("no run command");
  return run;
}

/** trigger → wait 2 days → push → exit */
const waitPushProgram = mustCompile(
  doc(
    [trigger, { id: "wait", type: "core.wait", config: { mode: "duration", duration: { amount: 2, unit: "days" } } }, push("push"), exit],
    [
      ["trigger", "next", "wait"],
      ["wait", "next", "push"],
      ["push", "sent", "exit"],
      ["push", "failed", "exit"],
    ],
  ),
  { journeyId: "j1" },
);

describe("step: walking the graph", () => {
  it("advances through the trigger to the first blocking node in one step", () => {
    const { state, commands } = start(waitPushProgram);
    expect(bodiesOf(commands)).toEqual([
      { kind: "entered", nodeId: "trigger" },
      { kind: "left", nodeId: "trigger", output: "next" },
      { kind: "entered", nodeId: "wait" },
    ]);
    expect(recordsOf(commands).map((r) => [r.seq, r.at, r.instanceId])).toEqual([
      [1, T0, "i1"],
      [2, T0, "i1"],
      [3, T0, "i1"],
    ]);
    expect(nonRecords(commands)).toEqual([{ type: "sleep", until: T0 + 2 * DAY, matchers: [] }]);
    expect(state).toMatchObject({ status: "active", nodeId: "wait", seq: 3, block: { kind: "sleep", nodeId: "wait", until: T0 + 2 * DAY } });
    expect(wakeAt(state)).toBe(T0 + 2 * DAY);
  });

  it("ignores an early timer and returns the state untouched", () => {
    const { state } = start(waitPushProgram);
    const early = step(waitPushProgram, state, { type: "timer", now: T0 + DAY, user: alice });
    expect(early.commands).toEqual([]);
    expect(early.state).toBe(state);
  });

  it("runs the action with a visit-based idempotency key, then exits on its result", () => {
    const s1 = start(waitPushProgram).state;
    const s2 = feed(waitPushProgram, s1, { type: "timer", now: T0 + 2 * DAY, user: alice });
    expect(bodiesOf(s2.commands)).toEqual([
      { kind: "left", nodeId: "wait", output: "next" },
      { kind: "entered", nodeId: "push" },
    ]);
    expect(nonRecords(s2.commands)).toEqual([
      {
        type: "run",
        runId: "i1:r1",
        nodeId: "push",
        nodeType: "core.push",
        config: { title: "Hi", body: "Hello {{ user.name }}", category: "marketing" },
        idempotencyKey: "i1:push:1",
        attempt: 1,
        event: { name: "signed_up", properties: {} },
      },
    ]);
    const s3 = feed(waitPushProgram, s2.state, { type: "actionResult", now: T0 + 2 * DAY + 500, user: alice, runId: "i1:r1", result: { output: "sent", detail: { messageId: "m-1" } } });
    expect(bodiesOf(s3.commands)).toEqual([
      { kind: "message", nodeId: "push", channel: "push", status: "sent", attempt: 1, messageId: "m-1" },
      { kind: "left", nodeId: "push", output: "sent" },
      { kind: "entered", nodeId: "exit" },
      { kind: "exit", reason: "exit_node", nodeId: "exit" },
    ]);
    expect(nonRecords(s3.commands)).toEqual([{ type: "complete", reason: "exit_node" }]);
    expect(s3.state).toMatchObject({ status: "completed", reason: "exit_node", block: null, lastMessageNodeId: "push", seq: 9 });
  });

  it("ignores results of runs it is not waiting for, and any input after completion", () => {
    const s2 = feed(waitPushProgram, start(waitPushProgram).state, { type: "timer", now: T0 + 2 * DAY, user: alice });
    const stale = step(waitPushProgram, s2.state, { type: "actionResult", now: T0 + 2 * DAY, user: alice, runId: "i1:r0", result: { output: "sent" } });
    expect(stale).toEqual({ state: s2.state, commands: [] });
    const done = feed(waitPushProgram, s2.state, { type: "actionResult", now: T0 + 2 * DAY, user: alice, runId: "i1:r1", result: { output: "failed", detail: { reason: "invalid_token" } } });
    expect(bodiesOf(done.commands)[0]).toEqual({ kind: "message", nodeId: "push", channel: "push", status: "failed", attempt: 1, reason: "invalid_token" });
    expect(bodiesOf(done.commands)[1]).toEqual({ kind: "left", nodeId: "push", output: "failed", reason: "invalid_token" });
    expect(step(waitPushProgram, done.state, { type: "timer", now: T0 + 9 * DAY, user: alice }).commands).toEqual([]);
  });

  it("refuses protocol violations loudly", () => {
    const { state } = start(waitPushProgram);
    expect(() => step(waitPushProgram, state, { type: "start", now: T0, user: alice, instanceId: "i1", workspaceTimezone: "UTC" })).toThrow(InterpreterError);
    expect(() => step(waitPushProgram, null, { type: "timer", now: T0, user: alice })).toThrow(InterpreterError);
  });
});

describe("step: retries, deferrals and failures of actions", () => {
  it("retries with exponential backoff on the same idempotency key, then leaves by failed", () => {
    expect([1, 2, 3, 4].map(backoffMs)).toEqual([30_000, 60_000, 120_000, 240_000]);
    expect(backoffMs(20)).toBe(RETRY_POLICY.maxDelayMs);
    let { state } = feed(waitPushProgram, start(waitPushProgram).state, { type: "timer", now: T0 + 2 * DAY, user: alice });
    let now = T0 + 2 * DAY;
    const keys: string[] = [];
    for (let attempt = 1; attempt < RETRY_POLICY.maxAttempts; attempt += 1) {
      const block = state.block as { runId: string };
      const r = feed(waitPushProgram, state, { type: "actionResult", now, user: alice, runId: block.runId, result: { retry: { reason: "503" } } });
      expect(bodiesOf(r.commands)).toEqual([{ kind: "retry", nodeId: "push", attempt, reason: "503", retryAt: now + backoffMs(attempt) }]);
      expect(nonRecords(r.commands)).toEqual([{ type: "sleep", until: now + backoffMs(attempt), matchers: [] }]);
      now += backoffMs(attempt);
      const again = feed(waitPushProgram, r.state, { type: "timer", now, user: alice });
      const run = runCommand(again.commands);
      expect(run.attempt).toBe(attempt + 1);
      keys.push(run.idempotencyKey);
      expect(bodiesOf(again.commands)).toEqual([]); // a retry is not a new visit
      state = again.state;
    }
    expect(new Set(keys)).toEqual(new Set(["i1:push:1"]));
    const last = feed(waitPushProgram, state, { type: "actionResult", now, user: alice, runId: (state.block as { runId: string }).runId, result: { retry: { reason: "503" } } });
    expect(bodiesOf(last.commands).slice(0, 2)).toEqual([
      { kind: "message", nodeId: "push", channel: "push", status: "failed", attempt: 5, reason: "retries_exhausted: 503" },
      { kind: "left", nodeId: "push", output: "failed", reason: "retries_exhausted: 503" },
    ]);
    expect(last.state.reason).toBe("exit_node");
  });

  it("sleeps until a deferral ends and runs the same node again", () => {
    const s2 = feed(waitPushProgram, start(waitPushProgram).state, { type: "timer", now: T0 + 2 * DAY, user: alice });
    const deferUntil = T0 + 2 * DAY + 9 * HOUR;
    const d = feed(waitPushProgram, s2.state, { type: "actionResult", now: T0 + 2 * DAY, user: alice, runId: "i1:r1", result: { deferUntil, reason: "quiet_hours" } });
    expect(bodiesOf(d.commands)).toEqual([{ kind: "message", nodeId: "push", channel: "push", status: "deferred", attempt: 1, reason: "quiet_hours", deferUntil }]);
    expect(nonRecords(d.commands)).toEqual([{ type: "sleep", until: deferUntil, matchers: [] }]);
    const again = feed(waitPushProgram, d.state, { type: "timer", now: deferUntil, user: alice });
    expect(runCommand(again.commands)).toMatchObject({ runId: "i1:r2", attempt: 1, idempotencyKey: "i1:push:1" });
  });

  it("never defers into the past (no hot loop)", () => {
    const s2 = feed(waitPushProgram, start(waitPushProgram).state, { type: "timer", now: T0 + 2 * DAY, user: alice });
    const d = feed(waitPushProgram, s2.state, { type: "actionResult", now: T0 + 2 * DAY, user: alice, runId: "i1:r1", result: { deferUntil: T0, reason: "quiet_hours" } });
    expect(nonRecords(d.commands)).toEqual([{ type: "sleep", until: T0 + 2 * DAY + MIN, matchers: [] }]);
  });

  it("treats an output the node does not have as a failure", () => {
    const s2 = feed(waitPushProgram, start(waitPushProgram).state, { type: "timer", now: T0 + 2 * DAY, user: alice });
    const r = feed(waitPushProgram, s2.state, { type: "actionResult", now: T0 + 2 * DAY, user: alice, runId: "i1:r1", result: { output: "bogus" } });
    expect(bodiesOf(r.commands)[1]).toEqual({ kind: "left", nodeId: "push", output: "failed", reason: "invalid_output: bogus" });
  });

  it("ends the journey with reason failed when a custom node without a failed output gives up", () => {
    const pingNode = defineNode({
      type: "acme.ping",
      version: 1,
      kind: "action",
      category: "custom",
      label: { en: "Ping", zh: "Ping" },
      description: { en: "Ping", zh: "Ping" },
      icon: "P",
      config: z.object({}),
      defaults: {},
      outputs: () => [{ id: "done", label: { en: "Done", zh: "完成" } }],
      summary: () => "ping",
    });
    const lookup = (type: string) => (type === pingNode.type ? pingNode : getNodeDefinition(type));
    const program = mustCompile(doc([trigger, { id: "ping", type: "acme.ping", config: {} }, exit], [["trigger", "next", "ping"], ["ping", "done", "exit"]]), { lookup });
    let { state } = start(program);
    let now = T0;
    for (let attempt = 1; attempt <= RETRY_POLICY.maxAttempts; attempt += 1) {
      const r = feed(program, state, { type: "actionResult", now, user: alice, runId: (state.block as { runId: string }).runId, result: { retry: { reason: "down" } } });
      state = r.state;
      if (attempt < RETRY_POLICY.maxAttempts) {
        now += backoffMs(attempt);
        state = feed(program, state, { type: "timer", now, user: alice }).state;
      } else {
        expect(bodiesOf(r.commands)).toEqual([{ kind: "exit", reason: "failed", nodeId: "ping" }]);
      }
    }
    expect(state).toMatchObject({ status: "completed", reason: "failed" });
  });
});

describe("step: delivery wait (短信补量)", () => {
  const program = mustCompile(
    doc(
      [trigger, push("push", { deliveryTimeoutMs: 2 * HOUR }), { id: "sms", type: "core.sms", config: { body: "Hi {{ user.name }}" } }, exit],
      [
        ["trigger", "next", "push"],
        ["push", "sent", "exit"],
        ["push", "failed", "sms"],
        ["sms", "sent", "exit"],
        ["sms", "failed", "exit"],
      ],
    ),
  );
  const sent = () => feed(program, start(program).state, { type: "actionResult", now: T0, user: alice, runId: "i1:r1", result: { output: "sent", detail: { messageId: "m-1" } } });

  it("waits for the delivery report of this instance and node", () => {
    const s = sent();
    expect(nonRecords(s.commands)).toEqual([
      {
        type: "waitForEvent",
        until: T0 + 2 * HOUR,
        matchers: [
          { event: "$message.delivered", filters: [{ property: "instanceId", op: "eq", value: "i1" }, { property: "nodeId", op: "eq", value: "push" }], role: "delivery" },
          { event: "$message.failed", filters: [{ property: "instanceId", op: "eq", value: "i1" }, { property: "nodeId", op: "eq", value: "push" }], role: "delivery" },
        ],
      },
    ]);
    const other = step(program, s.state, { type: "event", now: T0 + MIN, user: alice, event: { name: "$message.delivered", properties: { instanceId: "i2", nodeId: "push" } } });
    expect(other.commands).toEqual([]);
    const d = feed(program, s.state, { type: "event", now: T0 + MIN, user: alice, event: { name: "$message.delivered", properties: { instanceId: "i1", nodeId: "push" } } });
    expect(bodiesOf(d.commands).slice(0, 2)).toEqual([
      { kind: "message", nodeId: "push", channel: "push", status: "delivered", attempt: 1 },
      { kind: "left", nodeId: "push", output: "sent" },
    ]);
    expect(d.state.reason).toBe("exit_node");
  });

  it("falls back to SMS when the push is not delivered in time", () => {
    const t = feed(program, sent().state, { type: "timer", now: T0 + 2 * HOUR, user: alice });
    expect(bodiesOf(t.commands)).toEqual([
      { kind: "message", nodeId: "push", channel: "push", status: "not_delivered", attempt: 1, reason: "not_delivered" },
      { kind: "left", nodeId: "push", output: "failed", reason: "not_delivered" },
      { kind: "entered", nodeId: "sms" },
    ]);
    expect(runCommand(t.commands)).toMatchObject({ nodeId: "sms", nodeType: "core.sms", idempotencyKey: "i1:sms:1" });
  });

  it("falls back at once on a failed delivery report", () => {
    const f = feed(program, sent().state, { type: "event", now: T0 + MIN, user: alice, event: { name: "$message.failed", properties: { instanceId: "i1", nodeId: "push", reason: "invalid_token" } } });
    expect(bodiesOf(f.commands).slice(0, 2)).toEqual([
      { kind: "message", nodeId: "push", channel: "push", status: "delivery_failed", attempt: 1, reason: "invalid_token" },
      { kind: "left", nodeId: "push", output: "failed", reason: "invalid_token" },
    ]);
  });
});

describe("step: wait for event", () => {
  const program = mustCompile(
    doc(
      [trigger, { id: "wfe", type: "core.wait-for-event", config: { event: "order_completed", filters: [{ property: "amount", op: "gte", value: 50 }], timeout: { amount: 1, unit: "days" } } }, exit],
      [
        ["trigger", "next", "wfe"],
        ["wfe", "happened", "exit"],
        ["wfe", "timed_out", "exit"],
      ],
    ),
  );

  it("leaves by happened on a matching event and ignores others", () => {
    const { state, commands } = start(program);
    expect(nonRecords(commands)).toEqual([
      { type: "waitForEvent", until: T0 + DAY, matchers: [{ event: "order_completed", filters: [{ property: "amount", op: "gte", value: 50 }], role: "node" }] },
    ]);
    expect(step(program, state, { type: "event", now: T0 + HOUR, user: alice, event: { name: "order_completed", properties: { amount: 20 } } }).commands).toEqual([]);
    const hit = feed(program, state, { type: "event", now: T0 + HOUR, user: alice, event: { name: "order_completed", properties: { amount: "88" } } });
    expect(bodiesOf(hit.commands)[0]).toEqual({ kind: "left", nodeId: "wfe", output: "happened" });
  });

  it("leaves by timed_out at the deadline", () => {
    const t = feed(program, start(program).state, { type: "timer", now: T0 + DAY, user: alice });
    expect(bodiesOf(t.commands)[0]).toEqual({ kind: "left", nodeId: "wfe", output: "timed_out" });
  });
});

describe("step: goal and exit criteria", () => {
  const program = mustCompile(
    doc(
      [trigger, { id: "split", type: "core.split", config: { branches: [{ id: "a", label: "A", percent: 100 }, { id: "b", label: "B", percent: 0 }] } }, push("push"), { id: "wait", type: "core.wait", config: { mode: "duration", duration: { amount: 10, unit: "days" } } }, exit],
      [
        ["trigger", "next", "split"],
        ["split", "a", "push"],
        ["split", "b", "push"],
        ["push", "sent", "wait"],
        ["push", "failed", "wait"],
        ["wait", "next", "exit"],
      ],
      { goal: { event: "order_completed", filters: [], windowMs: 7 * DAY }, exitEvents: [{ event: "unsubscribed", filters: [] }] },
    ),
  );
  const waiting = () => feed(program, start(program).state, { type: "actionResult", now: T0, user: alice, runId: "i1:r1", result: { output: "sent" } });

  it("listens for the goal and exit events while sleeping", () => {
    const s = waiting();
    expect(nonRecords(s.commands)).toEqual([
      { type: "sleep", until: T0 + 10 * DAY, matchers: [{ event: "order_completed", filters: [], role: "goal" }, { event: "unsubscribed", filters: [], role: "exit" }] },
    ]);
    // After the attribution window the goal is no longer awaited.
    expect(awaitedMatchers(program, s.state, T0 + 8 * DAY)).toEqual([{ event: "unsubscribed", filters: [], role: "exit" }]);
  });

  it("records a conversion attributed to the last message and the branch path", () => {
    const g = feed(program, waiting().state, { type: "event", now: T0 + 3 * DAY, user: alice, event: { name: "order_completed", properties: {} } });
    expect(bodiesOf(g.commands)).toEqual([
      { kind: "conversion", event: "order_completed", nodeId: "wait", attributedNodeId: "push", path: [{ nodeId: "split", output: "a" }], holdout: false },
      { kind: "exit", reason: "goal", nodeId: "wait" },
    ]);
    expect(nonRecords(g.commands)).toEqual([{ type: "complete", reason: "goal" }]);
  });

  it("does not count the goal after its window", () => {
    const late = step(program, waiting().state, { type: "event", now: T0 + 7 * DAY + 1, user: alice, event: { name: "order_completed", properties: {} } });
    expect(late.commands).toEqual([]);
  });

  it("ends the journey on exit criteria", () => {
    const x = feed(program, waiting().state, { type: "event", now: T0 + DAY, user: alice, event: { name: "unsubscribed", properties: {} } });
    expect(bodiesOf(x.commands)).toEqual([{ kind: "exit", reason: "exit_criteria", nodeId: "wait" }]);
  });

  it("keeps watching for the goal after Exit until the attribution window ends", () => {
    const short = mustCompile(
      doc([trigger, push("push"), exit], [["trigger", "next", "push"], ["push", "sent", "exit"], ["push", "failed", "exit"]], {
        goal: { event: "order_completed", filters: [], windowMs: 7 * DAY },
        exitEvents: [{ event: "unsubscribed", filters: [] }],
      }),
    );
    const atExit = feed(short, start(short).state, { type: "actionResult", now: T0 + HOUR, user: alice, runId: "i1:r1", result: { output: "sent" } });
    expect(bodiesOf(atExit.commands).slice(-1)).toEqual([{ kind: "entered", nodeId: "exit" }]);
    expect(nonRecords(atExit.commands)).toEqual([{ type: "waitForEvent", until: T0 + 7 * DAY, matchers: [{ event: "order_completed", filters: [], role: "goal" }] }]);
    expect(atExit.state.block).toEqual({ kind: "event", nodeId: "exit", until: T0 + 7 * DAY, purpose: "goal_watch" });
    // Exit criteria no longer matter once the path is over.
    expect(step(short, atExit.state, { type: "event", now: T0 + DAY, user: alice, event: { name: "unsubscribed", properties: {} } }).commands).toEqual([]);
    const converted = feed(short, atExit.state, { type: "event", now: T0 + 2 * DAY, user: alice, event: { name: "order_completed", properties: {} } });
    expect(bodiesOf(converted.commands)).toEqual([
      { kind: "conversion", event: "order_completed", nodeId: "exit", attributedNodeId: "push", path: [], holdout: false },
      { kind: "exit", reason: "goal", nodeId: "exit" },
    ]);
    const ended = feed(short, atExit.state, { type: "timer", now: T0 + 7 * DAY, user: alice });
    expect(bodiesOf(ended.commands)).toEqual([{ kind: "exit", reason: "exit_node", nodeId: "exit" }]);
  });

  it("still records the outcome of a send that was in flight when the user converted", () => {
    const inFlight = start(program).state;
    const g = feed(program, inFlight, { type: "event", now: T0 + 1000, user: alice, event: { name: "order_completed", properties: {} } });
    expect(g.state.orphanRun).toEqual({ runId: "i1:r1", nodeId: "push" });
    const r = step(program, g.state, { type: "actionResult", now: T0 + 2000, user: alice, runId: "i1:r1", result: { output: "sent", detail: { messageId: "m-9" } } });
    expect(recordsOf(r.commands)).toEqual([{ kind: "message", nodeId: "push", channel: "push", status: "sent", attempt: 1, messageId: "m-9", instanceId: "i1", seq: g.state.seq + 1, at: T0 + 2000 }]);
    expect(r.state.orphanRun).toBeUndefined();
    expect(step(program, r.state, { type: "actionResult", now: T0 + 3000, user: alice, runId: "i1:r1", result: { output: "sent" } }).commands).toEqual([]);
  });
});

describe("step: holdout (对照组)", () => {
  const settings = { holdoutPercent: 50, goal: { event: "order_completed", filters: [], windowMs: 7 * DAY } };
  const program = mustCompile(doc([trigger, push("push"), exit], [["trigger", "next", "push"], ["push", "sent", "exit"], ["push", "failed", "exit"]], settings), { journeyId: "j-holdout" });
  const ids = Array.from({ length: 40 }, (_, i) => `user-${i}`);
  const held = ids.find((id) => isHoldout(program, id))!;
  const treated = ids.find((id) => !isHoldout(program, id))!;

  it("keeps holdout users away from every node but watches them for the goal", () => {
    const { state, commands } = start(program, T0, { id: held, traits: {} });
    expect(bodiesOf(commands)).toEqual([
      { kind: "entered", nodeId: "trigger" },
      { kind: "holdout", nodeId: "trigger" },
    ]);
    expect(nonRecords(commands)).toEqual([{ type: "waitForEvent", until: T0 + 7 * DAY, matchers: [{ event: "order_completed", filters: [], role: "goal" }] }]);
    const converted = feed(program, state, { type: "event", now: T0 + DAY, user: { id: held, traits: {} }, event: { name: "order_completed", properties: {} } });
    expect(bodiesOf(converted.commands)).toEqual([
      { kind: "conversion", event: "order_completed", nodeId: "trigger", attributedNodeId: null, path: [], holdout: true },
      { kind: "exit", reason: "goal", nodeId: "trigger" },
    ]);
    const expired = feed(program, state, { type: "timer", now: T0 + 7 * DAY, user: { id: held, traits: {} } });
    expect(bodiesOf(expired.commands)).toEqual([{ kind: "exit", reason: "holdout", nodeId: "trigger" }]);
  });

  it("lets the others through", () => {
    expect(runCommand(start(program, T0, { id: treated, traits: {} }).commands).nodeId).toBe("push");
  });

  it("completes holdout users at once when the journey has no goal", () => {
    const noGoal = mustCompile(doc([trigger, exit], [["trigger", "next", "exit"]], { holdoutPercent: 100 }));
    const { state, commands } = start(noGoal);
    expect(bodiesOf(commands)).toEqual([
      { kind: "entered", nodeId: "trigger" },
      { kind: "holdout", nodeId: "trigger" },
      { kind: "exit", reason: "holdout", nodeId: "trigger" },
    ]);
    expect(state.status).toBe("completed");
  });
});

describe("step: conditions and splits", () => {
  const traitCondition: NodeSpec = { id: "cond", type: "core.condition", config: { mode: "yes_no", match: "all", rules: [{ kind: "trait", trait: "plan", op: "eq", value: "gold" }] } };
  const eventCondition: NodeSpec = {
    id: "cond",
    type: "core.condition",
    config: {
      mode: "branches",
      branches: [
        { id: "buyers", label: "Buyers", match: "all", rules: [{ kind: "event", event: "order_completed", check: "did", within: { amount: 30, unit: "days" } }] },
        { id: "vip", label: "VIP", match: "all", rules: [{ kind: "trait", trait: "plan", op: "eq", value: "gold" }] },
      ],
    },
  };
  const edgesFor = (outputs: string[]): EdgeSpec[] => [["trigger", "next", "cond"], ...outputs.map((o): EdgeSpec => ["cond", o, "exit"])];

  it("decides trait-only conditions inside the step, from the input's user", () => {
    const program = mustCompile(doc([trigger, traitCondition, exit], edgesFor(["yes", "no"])));
    expect(bodiesOf(start(program).commands).slice(2, 4)).toEqual([
      { kind: "entered", nodeId: "cond" },
      { kind: "left", nodeId: "cond", output: "yes" },
    ]);
    expect(bodiesOf(start(program, T0, { id: "bob", traits: { plan: "free" } }).commands)[3]).toEqual({ kind: "left", nodeId: "cond", output: "no" });
  });

  it("asks the driver to evaluate conditions that need history, then follows the answer", () => {
    const program = mustCompile(doc([trigger, eventCondition, exit], edgesFor(["buyers", "vip", "else"])));
    const s = start(program);
    expect(nonRecords(s.commands)).toEqual([{ type: "evaluate", nodeId: "cond", config: program.nodes.cond.config }]);
    expect(step(program, s.state, { type: "evaluation", now: T0, user: alice, nodeId: "other", output: "vip" }).commands).toEqual([]);
    expect(() => step(program, s.state, { type: "evaluation", now: T0, user: alice, nodeId: "cond", output: "nope" })).toThrow(InterpreterError);
    const e = feed(program, s.state, { type: "evaluation", now: T0, user: alice, nodeId: "cond", output: "vip" });
    expect(bodiesOf(e.commands)[0]).toEqual({ kind: "left", nodeId: "cond", output: "vip" });
    expect(e.state.branches).toEqual([{ nodeId: "cond", output: "vip" }]);
  });

  it("splits the same user the same way every time", () => {
    const program = mustCompile(
      doc([trigger, { id: "ab", type: "core.split", config: { branches: [{ id: "a", label: "A", percent: 50 }, { id: "b", label: "B", percent: 50 }] } }, exit], [["trigger", "next", "ab"], ["ab", "a", "exit"], ["ab", "b", "exit"]]),
    );
    const outputs = ["u1", "u2", "u3", "u4", "u5", "u6"].map((id) => start(program, T0, { id, traits: {} }).state.branches[0].output);
    const again = ["u1", "u2", "u3", "u4", "u5", "u6"].map((id) => start(program, T0 + DAY, { id, traits: {} }).state.branches[0].output);
    expect(again).toEqual(outputs);
    expect(new Set(outputs)).toEqual(new Set(["a", "b"]));
  });
});

describe("step: loops", () => {
  it("counts visits so each pass through a node gets its own idempotency key", () => {
    const program = mustCompile(
      doc(
        [trigger, push("push"), { id: "wait", type: "core.wait", config: { mode: "duration", duration: { amount: 1, unit: "days" } } }],
        [
          ["trigger", "next", "push"],
          ["push", "sent", "wait"],
          ["push", "failed", "wait"],
          ["wait", "next", "push"],
        ],
      ),
    );
    const first = start(program);
    let state = first.state;
    const keys = [runCommand(first.commands).idempotencyKey];
    for (let day = 1; day <= 2; day += 1) {
      state = feed(program, state, { type: "actionResult", now: T0 + (day - 1) * DAY, user: alice, runId: (state.block as { runId: string }).runId, result: { output: "sent" } }).state;
      const t = feed(program, state, { type: "timer", now: T0 + day * DAY, user: alice });
      keys.push(runCommand(t.commands).idempotencyKey);
      state = t.state;
    }
    expect(keys).toEqual(["i1:push:1", "i1:push:2", "i1:push:3"]);
    expect(state.visits).toEqual({ trigger: 1, push: 3, wait: 2 });
  });
});
