import { Context } from "@temporalio/activity";
import type { Db } from "../../db/client";
import { evaluateCondition } from "../../nodes/condition/evaluate";
import { executeNode } from "../../nodes/registry.server";
import type { ActionContext, ActionResult, ActionServices, UserSnapshot } from "../../nodes/runtime";
import { step, type Input, type InstanceState, type NodeRecord } from "../interpreter";
import type { JourneyProgram } from "../program";
import { loadFacts } from "../embedded/facts.server";
import { ProgramCache } from "../embedded/programs.server";
import { loadUsers, userKey } from "../embedded/users.server";
import {
  commitOf,
  recordsOf,
  stepDigest,
  timerInput,
  type Commit,
  type EvaluateConditionRequest,
  type ExecuteNodeRequest,
  type InstanceRef,
  type JourneyActivities,
  type RecordProgressRequest,
  type Stale,
} from "./contract";
import { storeProgress } from "./store.server";

/**
 * The journey workflow's activities. Each one stores the node events the workflow hands it (and,
 * where it produces an interpreter input, the records of the step that input causes: the
 * pre-commit described in contract.ts) together with the instance row, in one transaction keyed by
 * (instance, seq): retries store nothing twice. Sends go through the node runtimes with the
 * visit's idempotency key, so a retried send reaches a provider that honours the key only once.
 */

/** `typeVersion`: the version the config was stored with (older ones are migrated before running). */
export type ActionExecutor = (type: string, ctx: ActionContext, config: unknown, typeVersion?: number) => Promise<ActionResult>;

export interface ActivityDeps {
  db: Db;
  /** Side-effect services for node runtimes (messaging, profile updates, fetch), per workspace. */
  actionServices(workspaceId: string): ActionServices;
  /** Runs one action node; default `executeNode` of the node registry. */
  executeAction?: ActionExecutor;
  /** Published program of a version; default: journey_versions, cached (versions are immutable). */
  loadProgram?(versionId: string): Promise<JourneyProgram | undefined>;
  /** Journey time (epoch ms); tests inject a virtual clock. */
  now?(): number;
}

export function createActivities(deps: ActivityDeps): JourneyActivities {
  const cache = new ProgramCache();
  const clockNow = deps.now ?? Date.now;
  // Clock mode: the workflow hands its journey time in (decision 0508).
  const requestNow = (request: { now?: number }) => request.now ?? clockNow();
  const execute = deps.executeAction ?? executeNode;
  const loadProgram =
    deps.loadProgram ??
    (async (versionId: string) => {
      await cache.load(deps.db, [versionId]);
      return cache.get(versionId);
    });

  /** The instance's program, or null when this worker cannot reproduce the workflow's steps. */
  async function programFor(request: { instance: InstanceRef; programHash: string }): Promise<JourneyProgram | null> {
    const program = await loadProgram(request.instance.versionId);
    return program && program.hash === request.programHash ? program : null;
  }

  async function currentUser(instance: InstanceRef): Promise<UserSnapshot> {
    const users = await loadUsers(deps.db, [{ workspaceId: instance.workspaceId, userId: instance.userId }]);
    return users.get(userKey(instance.workspaceId, instance.userId))!;
  }

  /** Re-runs a step made with a possibly stale profile; stale when today's profile changes it. */
  function recheck(request: ExecuteNodeRequest | EvaluateConditionRequest | RecordProgressRequest, program: JourneyProgram | null, user: UserSnapshot): Stale | null {
    const verify = request.verify;
    if (!verify || !program) return null;
    const fresh = step(program, verify.before, timerInput(verify.now, user));
    return stepDigest(fresh) === verify.digest ? null : { stale: true, now: requestNow(request), user };
  }

  /**
   * The step the workflow is about to make with this input, made here so its records are stored
   * now. Any failure only skips the optimisation: the workflow then stores the records itself.
   */
  function precommit(program: JourneyProgram | null, state: InstanceState, input: Input): { records: NodeRecord[]; state: InstanceState; commit?: Commit } {
    if (!program) return { records: [], state };
    try {
      const result = step(program, state, input);
      const records = recordsOf(result.commands);
      const commit = commitOf(records);
      return { records, state: result.state, ...(commit ? { commit } : {}) };
    } catch {
      return { records: [], state };
    }
  }

  return heartbeating({
    async executeNode(request) {
      const { instance, command } = request;
      const program = await programFor(request);
      const before = await currentUser(instance);
      const stale = recheck(request, program, before);
      if (stale) return stale;
      const ctx: ActionContext = {
        workspaceId: instance.workspaceId,
        journeyId: instance.journeyId,
        versionId: instance.versionId,
        instanceId: instance.instanceId,
        nodeId: command.nodeId,
        user: before,
        ...(command.event ? { event: command.event } : {}),
        journey: { id: instance.journeyId, name: program?.name ?? "" },
        idempotencyKey: command.idempotencyKey,
        attempt: command.attempt,
        now: requestNow(request),
        services: deps.actionServices(instance.workspaceId),
      };
      const result = await execute(command.nodeType, ctx, command.config, program?.nodes[command.nodeId]?.typeVersion);
      // Profile-changing nodes (Update user) must be seen by the very next step.
      const user = await currentUser(instance);
      const at = requestNow(request);
      const next = precommit(program, request.state, { type: "actionResult", now: at, user, runId: command.runId, result });
      await storeProgress(deps.db, { instance, pending: request.records, state: request.state, replace: request.replace, precommitted: next.records, next: next.state, now: at });
      return { now: at, user, result, ...(next.commit ? { commit: next.commit } : {}) };
    },

    async evaluateCondition(request) {
      const { instance, command } = request;
      const program = await programFor(request);
      const user = await currentUser(instance);
      const stale = recheck(request, program, user);
      if (stale) return stale;
      const at = requestNow(request);
      const facts = await loadFacts(deps.db, [
        { instanceId: instance.instanceId, workspaceId: instance.workspaceId, userId: instance.userId, config: command.config, now: at, user, unsaved: request.records },
      ]);
      const output = evaluateCondition(command.config, facts.get(instance.instanceId)!);
      const next = precommit(program, request.state, { type: "evaluation", now: at, user, nodeId: command.nodeId, output });
      await storeProgress(deps.db, { instance, pending: request.records, state: request.state, replace: request.replace, precommitted: next.records, next: next.state, now: at });
      return { now: at, user, output, ...(next.commit ? { commit: next.commit } : {}) };
    },

    async recordProgress(request) {
      const { instance } = request;
      const program = await programFor(request);
      const user = await currentUser(instance);
      const stale = recheck(request, program, user);
      if (stale) return stale;
      const at = requestNow(request);
      await storeProgress(deps.db, { instance, pending: request.records, state: request.state, replace: request.replace, precommitted: [], next: request.state, now: at });
      return { now: at, user };
    },
  });
}

/**
 * Heartbeats while an activity runs, when the workflow asked for them (a heartbeat timeout): the
 * server then retries an attempt whose worker died after that timeout, not after the whole
 * start-to-close timeout (decision 1201). A send waiting on a slow provider keeps heartbeating and
 * is not cut short. Outside a Temporal worker (a test calling an activity directly) nothing beats.
 */
export function heartbeating(activities: JourneyActivities): JourneyActivities {
  const wrap =
    <A extends unknown[], R>(run: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      let context: Context | undefined;
      try {
        context = Context.current();
      } catch {
        context = undefined;
      }
      const timeoutMs = context?.info.heartbeatTimeoutMs;
      if (!context || !timeoutMs) return run(...args);
      const beating = context;
      // Often enough that the server's last heartbeat is at most a few seconds old (the worker
      // passes one on per maxHeartbeatThrottleInterval, worker.ts): a send's retry must come
      // after the dead worker's claim on the message has run out (workflows.ts).
      const beat = setInterval(() => beating.heartbeat(), Math.min(5_000, Math.max(1_000, timeoutMs / 4)));
      try {
        return await run(...args);
      } finally {
        clearInterval(beat);
      }
    };
  return { executeNode: wrap(activities.executeNode), evaluateCondition: wrap(activities.evaluateCondition), recordProgress: wrap(activities.recordProgress) };
}
