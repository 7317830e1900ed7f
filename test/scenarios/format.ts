import type { JourneyDocumentInput } from "../../workflows/document";
import type { RecordBody } from "../../workflows/interpreter";
import type { ActionOutcome, SimUser } from "../../workflows/simulate";

/**
 * The engine-neutral scenario format. The same files run on the simulator
 * (`run-on-simulator.test.ts`) and on the embedded Postgres engine; both turn their stored node
 * records into an `Observation` with `observe()` and compare it with `expect`.
 *
 * Rules for engines running a scenario:
 * - compile every document with `{ journeyId: scenario.journeyId }` (holdout membership hashes it);
 * - start the virtual clock at `start`, apply the timeline in order, stop at `until`;
 * - segment entry arrives as `$segment.entered` { segment }, API entry as `$api.trigger`;
 * - a `versions` entry publishes that document at `at`: new entries use it, users inside stay;
 * - `actionOutcomes` script the sandbox provider (see ActionOutcome in workflows/simulate.ts);
 *   without one, a message is sent and delivered at once and other actions succeed;
 * - `quietHours` (user's local time) applies to marketing messages; defer means "send at the end".
 */
export interface Scenario {
  name: string;
  /** What the case exercises, e.g. "journey:win-back", "node:core.split", "entry:cooldown". */
  covers: string[];
  journeyId: string;
  document: JourneyDocumentInput;
  versions?: Array<{ at: string; document: JourneyDocumentInput }>;
  users: SimUser[];
  timeline: Array<{ at: string; userId: string; event: { name: string; properties?: Record<string, unknown> } }>;
  start: string;
  until: string;
  workspaceTimezone: string;
  actionOutcomes?: ActionOutcome[];
  quietHours?: { start: string; end: string };
  expect: Expectation;
}

export interface ObservedMessage {
  user: string;
  node: string;
  channel: string;
  /** ISO-8601 UTC, e.g. 2024-05-06T03:00:00.000Z */
  at: string;
  status: "sent" | "failed";
}

export interface NodeCount {
  entered: number;
  left: Record<string, number>;
}

export interface Observation {
  /**
   * Per user, one list per instance (in entry order): "node:output" for each node left,
   * "node" for the node the instance ended or waits at.
   */
  paths: Record<string, string[][]>;
  /** Per user, per instance: the completion reason, or "waiting". */
  outcomes: Record<string, string[]>;
  /** Send attempts that reached a decision (sent/failed), ordered by time, user, node. */
  messages: ObservedMessage[];
  /** Exact counts per node: entered, and left per output. */
  nodeCounts: Record<string, NodeCount>;
  /** How many records of each kind (conversion, holdout, tz_fallback, retry, ...). */
  recordCounts: Record<string, number>;
}

export interface Expectation {
  paths: Observation["paths"];
  outcomes: Observation["outcomes"];
  messages: ObservedMessage[];
  nodeCounts: Observation["nodeCounts"];
  /** Only the kinds listed are compared. */
  recordCounts?: Record<string, number>;
  /** Refused entries (entry rules, caps), compared exactly when given. */
  rejections?: Array<{ user: string; at: string; reason: string }>;
}

/** A stored node record, as any engine keeps it. */
export type ObservedRecord = RecordBody & { userId: string; instanceId: string; seq: number; at: string };

export function observe(records: readonly ObservedRecord[]): Observation {
  const byInstance = new Map<string, ObservedRecord[]>();
  for (const r of records) byInstance.set(r.instanceId, [...(byInstance.get(r.instanceId) ?? []), r]);
  const instances = [...byInstance.values()]
    .map((list) => [...list].sort((a, b) => a.seq - b.seq))
    .sort((a, b) => (a[0].at !== b[0].at ? (a[0].at < b[0].at ? -1 : 1) : a[0].instanceId < b[0].instanceId ? -1 : 1));

  const paths: Observation["paths"] = {};
  const outcomes: Observation["outcomes"] = {};
  const nodeCounts: Observation["nodeCounts"] = {};
  const recordCounts: Observation["recordCounts"] = {};
  const messages: ObservedMessage[] = [];
  for (const list of instances) {
    const user = list[0].userId;
    const path: string[] = [];
    let outcome = "waiting";
    for (const r of list) {
      recordCounts[r.kind] = (recordCounts[r.kind] ?? 0) + 1;
      if (r.kind === "entered") {
        path.push(r.nodeId);
        (nodeCounts[r.nodeId] ??= { entered: 0, left: {} }).entered += 1;
      } else if (r.kind === "left") {
        path[path.length - 1] = `${r.nodeId}:${r.output}`;
        const left = (nodeCounts[r.nodeId] ??= { entered: 0, left: {} }).left;
        left[r.output] = (left[r.output] ?? 0) + 1;
      } else if (r.kind === "exit") {
        outcome = r.reason;
      } else if (r.kind === "message" && (r.status === "sent" || r.status === "failed")) {
        messages.push({ user, node: r.nodeId, channel: r.channel, at: r.at, status: r.status });
      }
    }
    (paths[user] ??= []).push(path);
    (outcomes[user] ??= []).push(outcome);
  }
  messages.sort((a, b) => (a.at !== b.at ? (a.at < b.at ? -1 : 1) : a.user !== b.user ? (a.user < b.user ? -1 : 1) : a.node < b.node ? -1 : 1));
  return { paths, outcomes, messages, nodeCounts, recordCounts };
}
