import { sql } from "drizzle-orm";
import type { JourneyEvent, UserSnapshot } from "../../nodes/runtime";
import type { ConditionConfig } from "../../nodes/condition/definition";
import { evaluateCondition } from "../../nodes/condition/evaluate";
import {
  awaitedMatchers,
  MESSAGE_DELIVERED_EVENT,
  MESSAGE_FAILED_EVENT,
  step,
  wakeAt,
  type Command,
  type Input,
  type InstanceState,
  type NodeRecord,
} from "../interpreter";
import type { JourneyProgram } from "../program";
import { nodeEventColumns } from "../node-events";
import { loadFacts } from "./facts.server";
import { arr, iso, keyLookup, rows, type Conn } from "./db.server";

/**
 * One batch of interpreter steps, applied in memory and written back in ONE statement.
 *
 * Every path that changes instances (due timers, incoming events, entries, action results)
 * loads its instances inside a transaction, calls `apply` for each input, lets `settle` answer
 * what can be answered without a side effect (condition facts, delivery reports that already
 * arrived), and then `write`s states, node events, new outbox rows, event receipts, ledger rows
 * and entry counts together. Nothing about an instance is written outside that transaction,
 * which is what makes a crash at any point safe.
 */

export type RunCommand = Extract<Command, { type: "run" }>;

export interface Inst {
  id: string;
  workspaceId: string;
  journeyId: string;
  versionId: string;
  userId: string;
  program: JourneyProgram;
  user: UserSnapshot;
  /** Null until the `start` input has been applied to a new instance. */
  state: InstanceState | null;
  /** The timer stored for the instance when it was loaded (`journey_timers`), null for none. */
  loadedWake: number | null;
  /** Present for instances created in this batch. */
  created?: { entryKey: string; enteredAt: number };
  changed: boolean;
  records: NodeRecord[];
  runs: RunCommand[];
  evaluate: { nodeId: string; config: ConditionConfig } | null;
  /** The provider key of a send whose delivery report may already be stored. */
  deliveryKey: string | null;
  /** Event messageIds that changed this instance (receipts, for idempotent redelivery). */
  consumed: string[];
}

/** Everything a run needs besides the program; stored as the outbox row's `command`. */
export interface OutboxCommand {
  journeyId: string;
  versionId: string;
  userId: string;
  nodeId: string;
  nodeType: string;
  attempt: number;
  event?: JourneyEvent;
}

export interface OutboxRow {
  id: number;
  instanceId: string;
  workspaceId: string;
  runId: string;
  idempotencyKey: string;
  command: OutboxCommand;
  attempts: number;
  /** The profile as the batch that dispatched the run saw it (absent for claimed rows). */
  user?: UserSnapshot;
}

export interface BatchHooks {
  onStep(): void;
  onError(error: unknown, inst: Inst): void;
}

export function newInst(fields: Omit<Inst, "changed" | "records" | "runs" | "evaluate" | "deliveryKey" | "consumed" | "loadedWake"> & { loadedWake?: number | null }): Inst {
  // Field by field, one object shape for every instance (the spread was a visible cost per step).
  return {
    id: fields.id,
    workspaceId: fields.workspaceId,
    journeyId: fields.journeyId,
    versionId: fields.versionId,
    userId: fields.userId,
    program: fields.program,
    user: fields.user,
    state: fields.state,
    loadedWake: fields.loadedWake ?? null,
    created: fields.created,
    changed: false,
    records: [],
    runs: [],
    evaluate: null,
    deliveryKey: null,
    consumed: [],
  };
}

/** Rows as selected by `INSTANCE_COLUMNS` joined with users. */
export type InstanceRow = {
  id: string;
  workspace_id: string;
  journey_id: string;
  version_id: string;
  user_id: string;
  state: InstanceState;
};

export const INSTANCE_COLUMNS = sql`i.id, i.workspace_id, i.journey_id, i.version_id, i.user_id, i.state`;

const MAX_SETTLE_ROUNDS = 50;
/** Counter rows per journey, day and outcome in `journey_entry_stats` (readers sum them). */
const ENTRY_STATS_SHARDS = 8;

export class Batch {
  readonly instances = new Map<string, Inst>();
  private readonly entryStats = new Map<string, { journeyId: string; versionId: string; day: string; outcome: string; count: number }>();
  /** Entry-ledger rows (locked by the entry gate) to advance with this batch's entries. */
  ledger: Array<{ journeyId: string; userId: string; count: number; last: number }> = [];

  constructor(
    readonly now: number,
    private readonly hooks: BatchHooks,
  ) {}

  add(inst: Inst): Inst {
    this.instances.set(inst.id, inst);
    return inst;
  }

  countEntry(journeyId: string, versionId: string, outcome: string): void {
    const day = iso(this.now).slice(0, 10);
    const key = `${journeyId}|${versionId}|${day}|${outcome}`;
    const entry = this.entryStats.get(key) ?? { journeyId, versionId, day, outcome, count: 0 };
    entry.count += 1;
    this.entryStats.set(key, entry);
  }

  /** Applies one input; returns whether it changed the instance (false: ignored as stale/unrelated). */
  apply(inst: Inst, input: Input): boolean {
    let result;
    try {
      result = step(inst.program, inst.state, input);
    } catch (error) {
      this.hooks.onError(error, inst);
      this.failInstance(inst);
      return true;
    }
    this.hooks.onStep();
    if (result.state === inst.state && result.commands.length === 0) return false;
    inst.state = result.state;
    inst.changed = true;
    for (const command of result.commands) {
      switch (command.type) {
        case "record":
          inst.records.push(command.record);
          break;
        case "run":
          inst.runs.push(command);
          break;
        case "evaluate":
          inst.evaluate = { nodeId: command.nodeId, config: command.config };
          break;
        default:
          // sleep / waitForEvent / complete are fully described by the new state (wake_at,
          // awaiting, status), which is what gets written.
          break;
      }
    }
    return true;
  }

  /**
   * An interpreter error (a program/state mismatch, a compiler bug) must not stop the batch or
   * lose the user: the instance ends as failed, with an exit record, and the error is logged.
   */
  private failInstance(inst: Inst): void {
    const state = inst.state;
    if (!state) {
      this.instances.delete(inst.id);
      return;
    }
    const seq = state.seq + 1;
    inst.records.push({ kind: "exit", reason: "failed", nodeId: state.nodeId, instanceId: inst.id, seq, at: this.now });
    inst.state = { ...state, seq, status: "completed", reason: "failed", block: null };
    inst.changed = true;
    inst.evaluate = null;
  }

  /** Answers conditions and already-arrived delivery reports until nothing more can move. */
  async settle(tx: Conn): Promise<void> {
    for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
      const evaluating = [...this.instances.values()].filter((i) => i.evaluate && i.state?.status === "active");
      const checking = [...this.instances.values()].filter((i) => i.deliveryKey !== null);
      if (evaluating.length === 0 && checking.length === 0) return;

      if (evaluating.length > 0) {
        const facts = await loadFacts(
          tx,
          evaluating.map((i) => ({
            instanceId: i.id,
            workspaceId: i.workspaceId,
            userId: i.userId,
            config: i.evaluate!.config,
            now: this.now,
            user: i.user,
            unsaved: i.records,
          })),
        );
        for (const inst of evaluating) {
          const { nodeId, config } = inst.evaluate!;
          inst.evaluate = null;
          const output = evaluateCondition(config, facts.get(inst.id)!);
          this.apply(inst, { type: "evaluation", now: this.now, user: inst.user, nodeId, output });
        }
      }

      if (checking.length > 0) await this.catchUpDeliveries(tx, checking);
    }
    throw new Error("batch did not settle: a condition or delivery loop without a wait");
  }

  /**
   * A provider that reports delivery at once (the sandbox, some SMS gateways) may store the
   * report before the send's result reaches the instance, when nobody is waiting for it yet.
   * Instances that just began waiting for a delivery report look for it in `messages`.
   */
  private async catchUpDeliveries(tx: Conn, checking: Inst[]): Promise<void> {
    const keys = checking.map((i) => i.deliveryKey!);
    const found = await rows<{ idempotency_key: string; id: string; state: string; failure_reason: string | null }>(
      tx,
      sql`select m.idempotency_key, m.id::text as id, m.state, m.failure_reason
          from unnest(${arr(checking.map((i) => i.workspaceId))}::uuid[], ${arr(keys)}::text[]) as k(w, key)
          ${keyLookup("messages", "m", sql`m.workspace_id = k.w and m.idempotency_key = k.key`)}
          where m.state in ('delivered', 'opened', 'clicked', 'failed')`,
    );
    const byKey = new Map(found.map((m) => [m.idempotency_key, m]));
    for (const inst of checking) {
      const message = byKey.get(inst.deliveryKey!);
      inst.deliveryKey = null;
      const block = inst.state?.block;
      if (!message || block?.kind !== "event" || block.purpose !== "delivery") continue;
      const failed = message.state === "failed";
      this.apply(inst, {
        type: "event",
        now: this.now,
        user: inst.user,
        event: {
          name: failed ? MESSAGE_FAILED_EVENT : MESSAGE_DELIVERED_EVENT,
          properties: {
            instanceId: inst.id,
            nodeId: block.nodeId,
            messageId: message.id,
            ...(failed ? { reason: message.failure_reason ?? "provider_rejected" } : {}),
          },
        },
      });
    }
  }

  /**
   * Writes the batch in one statement. Runs become outbox rows: `leased` rows are taken by this
   * process (it executes them right after commit); otherwise they wait for any worker to claim.
   */
  async write(tx: Conn, options: { realNow: number; leaseMs: number; leased: boolean }): Promise<OutboxRow[]> {
    const changed = [...this.instances.values()].filter((i) => i.changed && i.state);
    const created = changed.filter((i) => i.created);
    const updated = changed.filter((i) => !i.created);
    const records = changed.flatMap((i) => i.records.map((r) => ({ inst: i, r })));
    const runs = changed.flatMap((i) => i.runs.map((r) => ({ inst: i, r })));
    const consumed = changed.flatMap((i) => i.consumed.map((m) => ({ inst: i, m })));
    const stats = [...this.entryStats.values()];
    const nowIso = iso(this.now);
    // Timers that moved: the old row goes, the new one comes (journey_timers, decision 0160).
    const timersGone: Inst[] = [];
    const timersSet: Array<{ inst: Inst; at: number }> = [];
    for (const inst of changed) {
      const at = wakeAt(inst.state!);
      if (at === inst.loadedWake) continue;
      if (inst.loadedWake !== null) timersGone.push(inst);
      if (at !== null) timersSet.push({ inst, at });
    }

    const parts = [];
    // Row data travels as ONE JSON parameter per table (jsonb_to_recordset): V8's native
    // JSON.stringify instead of the driver escaping every element of a dozen text arrays, which
    // was the largest cost of a batch on the Node side. Null fields are left out (undefined):
    // PostgreSQL reads a missing key as null, and converting explicit nulls tripled its cost.
    // An instance names its (workspace, journey, version) by position in `ver`, of which a batch
    // has a few, instead of carrying the three ids itself.
    const versions = new Map<string, { c: number; w: string; j: string; v: string }>();
    const versionOf = (inst: Inst) => {
      let version = versions.get(inst.versionId);
      if (!version) versions.set(inst.versionId, (version = { c: versions.size + 1, w: inst.workspaceId, j: inst.journeyId, v: inst.versionId }));
      return version.c;
    };
    const shape = (list: Inst[]) =>
      JSON.stringify(
        list.map((inst) => {
          const state = inst.state!;
          const wake = wakeAt(state);
          const awaiting = awaitedMatchers(inst.program, state, this.now);
          return {
            id: inst.id,
            s: storedState(state),
            w: wake === null ? undefined : iso(wake),
            a: awaiting.length === 0 ? undefined : [...new Set(awaiting.map((m) => m.event))],
            ...(inst.created
              ? { c: versionOf(inst), u: inst.userId, k: inst.created.entryKey, e: inst.created.enteredAt === this.now ? undefined : iso(inst.created.enteredAt) }
              : {}),
          };
        }),
      );
    // Status, reason, node and holdout are read out of the state rather than sent twice.
    const columns = sql`id uuid, s jsonb, w timestamptz, a text[]`;
    if (updated.length > 0) {
      parts.push(sql`upd as (
        update journey_instances i set
          state = d.s, status = d.s ->> 'status', reason = d.s ->> 'reason', node_id = d.s ->> 'nodeId', holdout = (d.s ->> 'holdout')::boolean,
          wake_at = d.w, awaiting = coalesce(d.a, '{}'), updated_at = ${nowIso}::timestamptz,
          completed_at = case when d.s ->> 'status' = 'completed' then coalesce(i.completed_at, ${nowIso}::timestamptz) end
        from jsonb_to_recordset(${shape(updated)}::jsonb) as d(${columns})
        where i.id = d.id)`);
    }
    const createdRows = created.length > 0 ? shape(created) : null;
    // Node events and outbox rows name their instance by its position in `inst`, so the ids an
    // instance carries are sent once per instance, not once per record.
    const position = new Map(changed.map((inst, i) => [inst.id, i + 1]));
    const instRows = records.length > 0 || runs.length > 0 ? JSON.stringify(changed.map((i) => ({ id: i.id, u: i.userId, c: versionOf(i) }))) : null;
    if (createdRows || instRows) {
      parts.push(sql`ver as (select * from jsonb_to_recordset(${JSON.stringify([...versions.values()])}::jsonb) as ver(c int, w uuid, j uuid, v uuid))`);
    }
    if (createdRows) {
      parts.push(sql`ins as (
        insert into journey_instances (id, workspace_id, journey_id, version_id, user_id, entry_key, status, reason, node_id, holdout,
                                       state, wake_at, awaiting, entered_at, updated_at, completed_at)
        select d.id, ver.w, ver.j, ver.v, d.u, d.k, d.s ->> 'status', d.s ->> 'reason', d.s ->> 'nodeId', (d.s ->> 'holdout')::boolean, d.s, d.w,
               coalesce(d.a, '{}'), coalesce(d.e, ${nowIso}::timestamptz), ${nowIso}::timestamptz,
               case when d.s ->> 'status' = 'completed' then ${nowIso}::timestamptz end
        from jsonb_to_recordset(${createdRows}::jsonb) as d(${columns}, c int, u text, k text, e timestamptz)
        join ver on ver.c = d.c)`);
    }
    if (instRows) {
      parts.push(sql`inst as (
        select t.id, t.u, t.n, ver.w, ver.j, ver.v
        from rows from (jsonb_to_recordset(${instRows}::jsonb) as (id uuid, u text, c int)) with ordinality as t(id, u, c, n)
        join ver on ver.c = t.c)`);
    }
    if (records.length > 0) {
      const data = JSON.stringify(
        records.map(({ inst, r }) => {
          const c = nodeEventColumns(r);
          return {
            n: position.get(inst.id)!,
            q: r.seq,
            nd: c.nodeId ?? undefined,
            k: r.kind,
            o: c.output ?? undefined,
            r: c.reason ?? undefined,
            ms: c.status ?? undefined,
            ch: c.channel ?? undefined,
            dt: c.data ?? undefined,
            t: r.at === this.now ? undefined : iso(r.at),
          };
        }),
      );
      parts.push(sql`rec as (
        insert into journey_node_events (instance_id, seq, workspace_id, journey_id, version_id, user_id, node_id, kind, output, reason,
                                         message_status, channel, data, at)
        select inst.id, d.q, inst.w, inst.j, inst.v, inst.u, d.nd, d.k, d.o, d.r, d.ms, d.ch, d.dt, coalesce(d.t, ${nowIso}::timestamptz)
        from jsonb_to_recordset(${data}::jsonb) as d(n int, q int, nd text, k text, o text, r text, ms text, ch text, dt jsonb, t timestamptz)
        join inst on inst.n = d.n
        on conflict (instance_id, seq) do nothing)`);
    }
    let outboxSelect = false;
    // The commands as written: the inserted rows come back without them (no second parse).
    const commandsByRun = new Map<string, OutboxCommand>();
    if (runs.length > 0) {
      const next = iso(options.leased ? options.realNow + options.leaseMs : options.realNow);
      const outboxRows = runs.map(({ inst, r }) => ({
        n: position.get(inst.id)!,
        run: r.runId,
        key: r.idempotencyKey,
        cmd: {
          journeyId: inst.journeyId,
          versionId: inst.versionId,
          userId: inst.userId,
          nodeId: r.nodeId,
          nodeType: r.nodeType,
          attempt: r.attempt,
          ...(r.event ? { event: r.event } : {}),
        } satisfies OutboxCommand,
      }));
      for (const row of outboxRows) commandsByRun.set(row.run, row.cmd);
      const data = JSON.stringify(outboxRows);
      parts.push(sql`ob as (
        insert into journey_outbox (instance_id, workspace_id, run_id, idempotency_key, command, attempts, status, next_attempt_at)
        select inst.id, inst.w, d.run, d.key, d.cmd, ${options.leased ? 1 : 0}, ${options.leased ? "running" : "pending"}, ${next}::timestamptz
        from jsonb_to_recordset(${data}::jsonb) as d(n int, run text, key text, cmd jsonb)
        join inst on inst.n = d.n
        on conflict (run_id) do nothing
        returning id, instance_id, workspace_id, run_id, idempotency_key, attempts)`);
      outboxSelect = true;
    }
    if (timersGone.length > 0) {
      // One key lookup per row (the lateral LIMIT keeps the planner from hashing the whole
      // table, which it prefers for a join with 500 rows and costs O(all timers) per batch).
      parts.push(sql`tgone as (
        delete from journey_timers t
        where t.ctid = any(array(
          select x.ctid from unnest(${arr(timersGone.map((i) => iso(i.loadedWake!)))}::text[], ${arr(timersGone.map((i) => i.id))}::uuid[]) as d(w, id)
          cross join lateral (select ctid from journey_timers where wake_at = d.w::timestamptz and instance_id = d.id limit 1) x)))`);
    }
    if (timersSet.length > 0) {
      parts.push(sql`tset as (
        insert into journey_timers (wake_at, instance_id)
        select d.w::timestamptz, d.id from unnest(${arr(timersSet.map((t) => iso(t.at)))}::text[], ${arr(timersSet.map((t) => t.inst.id))}::uuid[]) as d(w, id)
        on conflict do nothing)`);
    }
    if (consumed.length > 0) {
      parts.push(sql`seen as (
        insert into journey_instance_events (instance_id, message_id)
        select * from unnest(${arr(consumed.map((c) => c.inst.id))}::uuid[], ${arr(consumed.map((c) => c.m))}::text[])
        on conflict do nothing)`);
    }
    if (this.ledger.length > 0) {
      const l = this.ledger;
      // Each row found by one index probe, then updated by its ctid: joined on the key columns,
      // the planner hashed the whole ledger (every user who ever entered) for each batch.
      parts.push(sql`led as (
        update journey_entry_ledger l set entries = l.entries + d.n, last_entered_at = d.at::timestamptz
        from (select x.ctid as c, d.n, d.at
              from unnest(${arr(l.map((e) => e.journeyId))}::uuid[], ${arr(l.map((e) => e.userId))}::text[], ${arr(l.map((e) => e.count))}::int[],
                          ${arr(l.map((e) => iso(e.last)))}::text[]) as d(j, u, n, at)
              cross join lateral (select ctid from journey_entry_ledger where journey_id = d.j and user_id = d.u limit 1) x) d
        where l.ctid = d.c)`);
    }
    if (stats.length > 0) {
      // One of ENTRY_STATS_SHARDS rows per journey, day and outcome: concurrent entry batches
      // then rarely wait for each other's commit on the same counter row.
      const shard = Math.floor(Math.random() * ENTRY_STATS_SHARDS);
      parts.push(sql`st as (
        insert into journey_entry_stats (journey_id, version_id, day, outcome, shard, count)
        select j, v, day::date, outcome, ${shard}::smallint, n
        from unnest(${arr(stats.map((s) => s.journeyId))}::uuid[], ${arr(stats.map((s) => s.versionId))}::uuid[],
                    ${arr(stats.map((s) => s.day))}::text[], ${arr(stats.map((s) => s.outcome))}::text[], ${arr(stats.map((s) => s.count))}::int[])
             as d(j, v, day, outcome, n)
        on conflict (journey_id, version_id, day, outcome, shard) do update set count = journey_entry_stats.count + excluded.count)`);
    }
    if (parts.length === 0) return [];
    const statement = sql.join([sql`with `, sql.join(parts, sql`, `), outboxSelect ? sql` select * from ob` : sql` select 1 as done`]);
    const result = await rows<{ id: number | string; instance_id: string; workspace_id: string; run_id: string; idempotency_key: string; attempts: number }>(tx, statement);
    if (!outboxSelect) return [];
    return result.map((r) => ({
      id: Number(r.id),
      instanceId: r.instance_id,
      workspaceId: r.workspace_id,
      runId: r.run_id,
      idempotencyKey: r.idempotency_key,
      command: commandsByRun.get(r.run_id)!,
      attempts: r.attempts,
      // Loaded in this transaction moments ago: the side effect needs no second read.
      user: this.instances.get(r.instance_id)?.user,
    }));
  }
}

export function instFromRow(row: InstanceRow, program: JourneyProgram, user: UserSnapshot): Inst {
  return newInst({
    id: row.id,
    workspaceId: row.workspace_id,
    journeyId: row.journey_id,
    versionId: row.version_id,
    userId: row.user_id,
    program,
    user,
    state: loadedState(row),
    loadedWake: wakeAt(row.state),
  });
}

/**
 * The state as stored in `journey_instances.state`: without `instanceId` and `userId`, which are
 * the row's own `id` and `user_id` (a sixth of every state written per step). `loadedState` puts
 * them back; states stored whole (older rows, the Temporal driver's) load the same way.
 */
function storedState(state: InstanceState): Omit<InstanceState, "instanceId" | "userId"> {
  const { instanceId: _instanceId, userId: _userId, ...stored } = state;
  return stored;
}

function loadedState(row: InstanceRow): InstanceState {
  // The row was parsed for this call alone: completed in place rather than copied.
  const state = row.state;
  state.instanceId = row.id;
  state.userId = row.user_id;
  return state;
}
