import { buildJourney } from "./builder";
import { compileJourney, type CompileOptions, type JourneyProgram } from "./program";
import type { Command, InstanceState, NodeRecord, RecordBody } from "./interpreter";

/** Helpers for tests of the journey core (also handy for the engines' tests). */

export function mustCompile(document: unknown, options: CompileOptions = {}): JourneyProgram {
  const result = compileJourney(document, options);
  if (!result.ok) throw new Error(`does not compile: ${result.errors.map((e) => `${e.code} ${e.nodeId ?? ""} ${e.message.en}`).join("; ")}`);
  return result.program;
}

export function recordsOf(commands: Command[]): NodeRecord[] {
  return commands.flatMap((c) => (c.type === "record" ? [c.record] : []));
}

/** Records without the bookkeeping fields, for compact exact assertions. */
export function bodiesOf(commands: Command[]): RecordBody[] {
  return recordsOf(commands).map(({ instanceId: _i, seq: _s, at: _a, ...body }) => body as RecordBody);
}

export function nonRecords(commands: Command[]): Command[] {
  return commands.filter((c) => c.type !== "record");
}

/** Every active instance waits on exactly one thing; completed ones on nothing. */
export function isWellFormed(state: InstanceState): boolean {
  return state.status === "completed" ? state.block === null : state.block !== null;
}

/**
 * The load journey of issue 17 ("signed_up → wait 1 minute → push → exit"), shared by the soak,
 * the send-path bench, the PGlite drain and the backlog test so they measure the same thing.
 */
export function waitThenPushJourney(name = "soak") {
  return buildJourney({
    name,
    settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "event", event: "signed_up", filters: [] } },
      { id: "wait", type: "core.wait", config: { mode: "duration", duration: { amount: 1, unit: "minutes" } } },
      { id: "push", type: "core.push", config: { title: "Welcome", body: "Hello {{ user.id }}" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "wait"],
      ["wait", "next", "push"],
      ["push", "sent", "exit"],
      ["push", "failed", "exit"],
    ],
  });
}
