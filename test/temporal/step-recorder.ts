import type { Input, InstanceState, StepResult, step as stepFn } from "../../workflows/interpreter";
import type { JourneyProgram } from "../../workflows/program";

/**
 * Captures every `step` call the simulator makes, so the history builder can replay exactly the
 * inputs (times, profiles, action results, routed events) the reference run applied to each
 * instance. Test files install it with:
 *
 *   vi.mock("../../workflows/interpreter", async (importOriginal) => {
 *     const actual = await importOriginal<typeof Interpreter>();   // import type * as Interpreter
 *     const { wrapStep } = await import("./step-recorder");
 *     return { ...actual, step: wrapStep(actual.step) };
 *   });
 *
 * Only calls made inside `recording()` are kept: the builder itself calls `step` too.
 */

export interface StepCall {
  program: JourneyProgram;
  before: InstanceState | null;
  input: Input;
  result: StepResult;
}

let active: StepCall[] | null = null;
let installed = false;

export function wrapStep(step: typeof stepFn): typeof stepFn {
  installed = true;
  return (program, state, input) => {
    const result = step(program, state, input);
    active?.push({ program, before: state, input, result });
    return result;
  };
}

export function recording<T>(fn: () => T): { value: T; calls: StepCall[] } {
  if (!installed) throw new Error("the step recorder is not installed: add the vi.mock of workflows/interpreter to this test file");
  const calls: StepCall[] = [];
  active = calls;
  try {
    return { value: fn(), calls };
  } finally {
    active = null;
  }
}

export function instanceIdOf(call: StepCall): string {
  return call.input.type === "start" ? call.input.instanceId : call.before!.instanceId;
}
