import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { ActionResult, UserSnapshot } from "../nodes/runtime";
import { splitConfigSchema } from "../nodes/split/definition";
import { chooseSplitBranch } from "../nodes/split/choose";
import { buildJourney, type EdgeSpec, type NodeSpec } from "./builder";
import { isHoldout, step, type Command, type Input, type InstanceState } from "./interpreter";
import type { JourneyProgram } from "./program";
import { isWellFormed, mustCompile } from "./testing";

const T0 = Date.parse("2024-03-01T00:00:00Z");
const HOUR = 3_600_000;

/** Node templates the random journeys are built from: every control node and action kind. */
const templates: Array<Omit<NodeSpec, "id">> = [
  { type: "core.wait", config: { mode: "duration", duration: { amount: 3, unit: "hours" } } },
  { type: "core.wait", config: { mode: "time_of_day", times: ["09:00", "18:30"], weekdays: [1, 3, 5] } },
  { type: "core.wait", config: { mode: "date_trait", trait: "renew_at", offsetDays: -1, time: "10:00" } },
  { type: "core.wait-for-event", config: { event: "order_completed", timeout: { amount: 1, unit: "days" } } },
  { type: "core.condition", config: { mode: "yes_no", rules: [{ kind: "trait", trait: "vip", op: "eq", value: true }] } },
  { type: "core.condition", config: { mode: "branches", branches: [{ id: "buyer", label: "Buyer", rules: [{ kind: "event", event: "order_completed", check: "did" }] }] } },
  { type: "core.split", config: { branches: [{ id: "a", label: "A", percent: 30 }, { id: "b", label: "B", percent: 70 }] } },
  { type: "core.push", config: { body: "Hi {{ user.name }}", deliveryTimeoutMs: 2 * HOUR } },
  { type: "core.sms", config: { body: "Hi" } },
  { type: "core.update-user", config: { operations: [{ op: "add_tag", tag: "seen" }] } },
  { type: "example.webhook", config: { url: "https://example.com/hook" } },
];

const outputsOf: Record<string, (config: unknown) => string[]> = {
  "core.wait": () => ["next"],
  "core.wait-for-event": () => ["happened", "timed_out"],
  "core.condition": (c) => ((c as { mode: string }).mode === "yes_no" ? ["yes", "no"] : ["buyer", "else"]),
  "core.split": () => ["a", "b"],
  "core.push": () => ["sent", "failed"],
  "core.sms": () => ["sent", "failed"],
  "core.update-user": () => ["next", "failed"],
  "example.webhook": () => ["success", "failed"],
};

/** A random acyclic journey: the first output goes to the next node (so all are reachable), others anywhere later. */
const journeyArb = fc
  .record({
    kinds: fc.array(fc.nat({ max: templates.length - 1 }), { minLength: 1, maxLength: 7 }),
    targets: fc.array(fc.nat(), { minLength: 30, maxLength: 30 }),
    holdoutPercent: fc.constantFrom(0, 0, 25),
    goal: fc.boolean(),
    exitEvent: fc.boolean(),
  })
  .map(({ kinds, targets, holdoutPercent, goal, exitEvent }) => {
    const nodes: NodeSpec[] = [{ id: "trigger", type: "core.trigger", config: { source: "api" } }];
    const edges: EdgeSpec[] = [["trigger", "next", "n0"]];
    let t = 0;
    kinds.forEach((k, i) => {
      const template = templates[k];
      nodes.push({ id: `n${i}`, ...template });
      outputsOf[template.type](template.config).forEach((output, o) => {
        const later = kinds.length - i - 1;
        const pick = o === 0 ? 0 : targets[t++ % targets.length] % (later + 1);
        edges.push([`n${i}`, output, pick === later ? "exit" : `n${i + 1 + pick}`]);
      });
    });
    nodes.push({ id: "exit", type: "core.exit", config: {} });
    return buildJourney({
      name: "random",
      settings: {
        entry: { rule: "concurrent" },
        holdoutPercent,
        exitEvents: exitEvent ? [{ event: "unsubscribed", filters: [] }] : [],
        ...(goal ? { goal: { event: "order_completed", filters: [{ property: "amount", op: "gt", value: 100 }], windowMs: 5 * 24 * HOUR } } : {}),
      },
      nodes,
      edges,
    });
  });

const userArb: fc.Arbitrary<UserCase> = fc.record({
  id: fc.string({ minLength: 1, maxLength: 12 }),
  vip: fc.boolean(),
  timezone: fc.constantFrom("Asia/Shanghai", "America/New_York", "Europe/Berlin", "Not/AZone", undefined),
  renewAt: fc.constantFrom("2024-03-05", "2023-01-01", undefined),
});

/**
 * A deterministic driver: `choices` decides what happens next (which result, which event,
 * noise or progress). It returns every step's input and output.
 */
type UserCase = { id: string; vip: boolean; timezone: string | undefined; renewAt: string | undefined };

function drive(program: JourneyProgram, u: UserCase, choices: number[], maxSteps = 300) {
  const user: UserSnapshot = { id: u.id, traits: { vip: u.vip, name: "N", ...(u.renewAt ? { renew_at: u.renewAt } : {}) }, timezone: u.timezone };
  let c = 0;
  // Mixing in the draw index keeps short choice lists from repeating one outcome forever.
  const pick = (n: number) => (choices[c % choices.length] + c++) % n;
  let now = T0;
  const trace: Array<{ input: Input; before: InstanceState | null; state: InstanceState; commands: Command[] }> = [];
  let state: InstanceState | null = null;
  let input: Input = { type: "start", now, user, instanceId: "inst", workspaceTimezone: "Asia/Shanghai" };
  let noisy = false;
  // Deferrals are unbounded by design (quiet hours end eventually), so a fair driver
  // stops answering "defer"/"retry" after a few in a row, as a real send policy would.
  let stalls = 0;
  for (let i = 0; i < maxSteps; i += 1) {
    const before: InstanceState | null = state;
    const out = step(program, before, input);
    trace.push({ input, before, state: out.state, commands: out.commands });
    state = out.state;
    if (state.status === "completed") break;
    // Noise never comes twice in a row, so the driver is fair and journeys can finish.
    noisy = !noisy && pick(5) === 0;
    input = noisy ? noiseInput(pick, now, user) : nextInput(program, state, pick, now, user, stalls >= 3);
    if (input.type === "actionResult" && input.runId !== "stale") {
      stalls = "retry" in input.result || "deferUntil" in input.result ? stalls + 1 : 0;
    }
    now = input.now;
  }
  return trace;
}

/** Something irrelevant, early, stale, or a goal/exit event. */
function noiseInput(pick: (n: number) => number, now: number, user: UserSnapshot): Input {
  const noise: Input[] = [
    { type: "timer", now, user },
    { type: "event", now: now + 1, user, event: { name: "app_opened", properties: {} } },
    { type: "actionResult", now, user, runId: "stale", result: { output: "sent" } },
    { type: "evaluation", now, user, nodeId: "stale", output: "yes" },
    { type: "event", now: now + 1, user, event: { name: "order_completed", properties: { amount: pick(2) === 0 ? 50 : 500 } } },
    { type: "event", now: now + 1, user, event: { name: "unsubscribed", properties: {} } },
  ];
  return noise[pick(noise.length)];
}

function nextInput(program: JourneyProgram, state: InstanceState, pick: (n: number) => number, now: number, user: UserSnapshot, mustSettle: boolean): Input {
  const block = state.block!;
  switch (block.kind) {
    case "sleep":
      return { type: "timer", now: Math.max(now, block.until), user };
    case "event":
      if (block.purpose === "delivery" && pick(2) === 0) {
        return { type: "event", now: now + 1, user, event: { name: "$message.delivered", properties: { instanceId: state.instanceId, nodeId: block.nodeId } } };
      }
      if (block.purpose === "wait_for_event" && pick(2) === 0) {
        return { type: "event", now: now + 1, user, event: { name: "order_completed", properties: { amount: 10 } } };
      }
      return { type: "timer", now: Math.max(now, block.until ?? now), user };
    case "run": {
      const outputs = program.nodes[block.nodeId].outputs;
      const results: ActionResult[] = [
        { output: outputs[0] },
        { output: "failed", detail: { reason: "x" } },
        { retry: { reason: "503" } },
        { deferUntil: now + HOUR, reason: "quiet_hours" },
      ];
      const choosable = mustSettle ? results.slice(0, 2) : results;
      return { type: "actionResult", now: now + 1000, user, runId: block.runId, result: choosable[pick(choosable.length)] };
    }
    case "evaluate": {
      const outputs = program.nodes[block.nodeId].outputs;
      return { type: "evaluation", now, user, nodeId: block.nodeId, output: outputs[pick(outputs.length)] };
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const blocking = new Set(["sleep", "waitForEvent", "run", "evaluate"]);

/** Hundreds of generated journeys: generous, so a busy shared machine does not time them out. */
const PROPERTY_TIMEOUT_MS = 120_000;

describe("interpreter properties", () => {
  it("is deterministic and never mutates its inputs", () => {
    fc.assert(
      fc.property(journeyArb, userArb, fc.array(fc.nat(), { minLength: 1, maxLength: 50 }), (document, u, choices) => {
        const program = deepFreeze(mustCompile(document, { journeyId: "j" }));
        const a = drive(program, u, choices);
        const b = drive(program, u, choices);
        expect(b).toEqual(a);
        // Replaying recorded inputs on frozen states gives the same outputs again.
        for (const entry of a) {
          const again = step(program, entry.before ? deepFreeze(structuredClone(entry.before)) : null, entry.input);
          expect(again.commands).toEqual(entry.commands);
        }
      }),
      { numRuns: 200 },
    );
  }, PROPERTY_TIMEOUT_MS);

  it("never loses a user: each instance completes or waits on exactly one thing", () => {
    fc.assert(
      fc.property(journeyArb, userArb, fc.array(fc.nat(), { minLength: 1, maxLength: 50 }), (document, u, choices) => {
        const program = mustCompile(document, { journeyId: "j" });
        const trace = drive(program, u, choices);
        let lastSeq = 0;
        for (const { before, state, commands } of trace) {
          expect(isWellFormed(state)).toBe(true);
          for (const c of commands) {
            if (c.type === "record") {
              expect(c.record.seq).toBe(lastSeq + 1);
              lastSeq = c.record.seq;
            }
          }
          const blockers = commands.filter((c) => blocking.has(c.type));
          const completes = commands.filter((c) => c.type === "complete");
          if (state === before) {
            expect(commands).toEqual([]);
          } else if (state.status === "completed") {
            expect(blockers).toEqual([]);
            expect(completes).toHaveLength(1);
          } else {
            expect(completes).toEqual([]);
            expect(blockers).toHaveLength(1);
            const kind = { sleep: "sleep", waitForEvent: "event", run: "run", evaluate: "evaluate" }[blockers[0].type as "sleep"];
            expect(state.block!.kind).toBe(kind);
          }
        }
        // The journey is acyclic and every wait has a deadline: a fair driver always finishes.
        expect(trace[trace.length - 1].state.status).toBe("completed");
      }),
      { numRuns: 300 },
    );
  }, PROPERTY_TIMEOUT_MS);

  it("splits users in the configured proportions", () => {
    const config = splitConfigSchema.parse({ branches: [{ id: "a", label: "A", percent: 20 }, { id: "b", label: "B", percent: 30 }, { id: "c", label: "C", percent: 50 }] });
    // Sequential ids are the hard case for weak hashes; random ids the general one.
    const sequential = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);
    const random = fc.sample(fc.uuid(), { numRuns: 20_000, seed: 42 });
    for (const ids of [sequential, random]) {
      const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
      for (const id of ids) counts[chooseSplitBranch(config, id, "ab_test")] += 1;
      expect(Math.abs(counts.a / ids.length - 0.2)).toBeLessThan(0.02);
      expect(Math.abs(counts.b / ids.length - 0.3)).toBeLessThan(0.02);
      expect(Math.abs(counts.c / ids.length - 0.5)).toBeLessThan(0.02);
    }
  });

  it("holds out the configured share of users, stably", () => {
    const program = mustCompile(
      buildJourney({
        name: "h",
        settings: { entry: { rule: "once" }, holdoutPercent: 10, exitEvents: [] },
        nodes: [
          { id: "trigger", type: "core.trigger", config: { source: "api" } },
          { id: "exit", type: "core.exit", config: {} },
        ],
        edges: [["trigger", "next", "exit"]],
      }),
      { journeyId: "journey-42" },
    );
    fc.assert(
      fc.property(fc.array(fc.uuid(), { minLength: 5000, maxLength: 5000 }), (ids) => {
        const held = ids.filter((id) => isHoldout(program, id)).length / ids.length;
        expect(Math.abs(held - 0.1)).toBeLessThan(0.025);
        expect(ids.filter((id) => isHoldout(program, id)).length / ids.length).toBe(held);
      }),
      { numRuns: 5 },
    );
  }, PROPERTY_TIMEOUT_MS);
});
