import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { historyFromJSON } from "@temporalio/common/lib/proto-utils";
import type { WorkflowBundleWithSourceMap } from "@temporalio/worker";
import { DeterminismViolationError } from "@temporalio/workflow";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type * as Interpreter from "../../workflows/interpreter";
import { scenarios } from "../scenarios";
import { buildScenarioHistories, type BuiltHistory } from "./history-builder";
import { bundleJourneyWorkflow, replayAll, simulateInputOf, WORKFLOWS_PATH } from "./replay-support";

vi.mock("../../workflows/interpreter", async (importOriginal) => {
  const actual = await importOriginal<typeof Interpreter>();
  const { wrapStep } = await import("./step-recorder");
  return { ...actual, step: wrapStep(actual.step) };
});

/**
 * Deliberately changed copies of workflows.ts, bundled together (one bundle, one workflow type
 * per variant), replayed against the scenario histories of the unchanged workflow. This is what
 * happens to instances in flight when a changed workflow is deployed: an unguarded change fails
 * replay with a DeterminismViolationError; the same change behind `patched()` replays cleanly.
 */

interface Variant {
  name: string;
  /** [anchor, replacement]: each anchor must occur exactly once, so a refactor cannot silently defuse the test. */
  edits: Array<[string, string]>;
}

const storeBeforeSend = (guard: string) =>
  `await this.disarmTimer();
    if (${guard}this.pending.length > 0) {
      await bookkeeping.recordProgress({ ...this.base(), state: this.state! });
      this.settled(this.user);
    }
    let outcome: Outcome<{ result: ActionResult }>;`;

const variants: Variant[] = [
  // The deadline's sleep is gone: the workflow now waits for events only (no timer command).
  { name: "removedSleep", edits: [["sleep(Math.max(1, ms))", "new Promise<void>(() => undefined)"]] },
  { name: "renamedActivity", edits: [["sends.executeNode(", "sends.sendMessage("]] },
  {
    name: "unguardedChange",
    edits: [["await this.disarmTimer();\n    let outcome: Outcome<{ result: ActionResult }>;", storeBeforeSend("")]],
  },
  {
    name: "patchedChange",
    edits: [
      ["await this.disarmTimer();\n    let outcome: Outcome<{ result: ActionResult }>;", storeBeforeSend('patched("store-before-send") && ')],
      ["  isCancellation,\n", "  isCancellation,\n  patched,\n"],
    ],
  },
];

/** Writes the variants under the git-ignored .cache/ (package imports resolve from there), relative imports made absolute. */
function writeVariants(): string {
  const source = readFileSync(WORKFLOWS_PATH, "utf8");
  const sourceDir = dirname(WORKFLOWS_PATH);
  const absolute = source.replace(/from "(\.{1,2}\/[^"]+)"/g, (_, path: string) => `from "${resolve(sourceDir, path)}"`);
  const dir = fileURLToPath(new URL("../../.cache/waypost-temporal-variants/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  for (const variant of variants) {
    let code = absolute;
    for (const [anchor, replacement] of variant.edits) {
      const occurrences = code.split(anchor).length - 1;
      if (occurrences !== 1) throw new Error(`variant ${variant.name}: anchor found ${occurrences} times in workflows.ts: ${anchor}`);
      code = code.replace(anchor, replacement);
    }
    writeFileSync(join(dir, `${variant.name}.ts`), code);
  }
  const index = variants.map((v) => `export { journeyWorkflow as ${v.name} } from "./${v.name}";`).join("\n");
  writeFileSync(join(dir, "index.ts"), `${index}\n`);
  return join(dir, "index.ts");
}

/** The same histories, recorded as if the workflow type were the variant's. */
function asType(runs: readonly BuiltHistory[], type: string): BuiltHistory[] {
  return runs.map((run) => {
    const events = JSON.parse(JSON.stringify(run.json.events).replaceAll('"name":"journeyWorkflow"', `"name":"${type}"`)) as BuiltHistory["json"]["events"];
    return { workflowId: run.workflowId, json: { events }, history: historyFromJSON({ events }) };
  });
}

let bundle: WorkflowBundleWithSourceMap;
let runs: BuiltHistory[];

beforeAll(async () => {
  bundle = await bundleJourneyWorkflow(writeVariants());
  runs = scenarios.flatMap((s) => buildScenarioHistories(simulateInputOf(s)).instances.flatMap((i) => i.runs));
});

describe("changed workflows against existing histories", () => {
  it("a removed sleep fails replay with a DeterminismViolationError", async () => {
    const results = await replayAll(bundle, asType(runs, "removedSleep"));
    const failed = results.filter((r) => r.error);
    // Every history with a timer breaks; the only ones without are single-send journeys.
    expect(failed.length).toBeGreaterThan(runs.length / 2);
    for (const r of failed) expect(r.error).toBeInstanceOf(DeterminismViolationError);
  });

  it("a renamed activity fails replay with a DeterminismViolationError", async () => {
    const results = await replayAll(bundle, asType(runs, "renamedActivity"));
    const sending = runs.filter((r) => JSON.stringify(r.json.events).includes('"name":"executeNode"'));
    expect(sending.length).toBeGreaterThan(0);
    const failed = results.filter((r) => r.error);
    expect(failed.map((r) => r.workflowId).sort()).toEqual(sending.map((r) => r.workflowId).sort());
    for (const r of failed) expect(r.error).toBeInstanceOf(DeterminismViolationError);
  });

  it("a changed command sequence fails replay unless it is behind patched()", async () => {
    const unguarded = (await replayAll(bundle, asType(runs, "unguardedChange"))).filter((r) => r.error);
    expect(unguarded.length).toBeGreaterThan(0);
    for (const r of unguarded) expect(r.error).toBeInstanceOf(DeterminismViolationError);

    const guarded = await replayAll(bundle, asType(runs, "patchedChange"));
    expect(guarded.filter((r) => r.error).map((r) => `${r.workflowId}: ${r.error}`)).toEqual([]);
    expect(guarded).toHaveLength(runs.length);
  });
});
