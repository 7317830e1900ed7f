import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import type { SendMessageRequest } from "../../nodes/runtime";
import { arr, epochMs, iso, rows, toMs } from "../../workflows/embedded/db.server";
import { createSandboxSender } from "../../workflows/embedded/sandbox-sender.server";
import { createUserUpdater } from "../../workflows/embedded/user-updates.server";
import type { JourneyProgram } from "../../workflows/program";
import type { SimUser } from "../../workflows/simulate";
import type { StartOutcome, WorkflowGateway } from "../../workflows/temporal/client";
import type { EnterSignal, EventSignal, HoldSignal, JourneyWorkflowInput, OperatorAction } from "../../workflows/temporal/contract";
import type { ObservedRecord } from "../scenarios/format";
import { createTestDb, type TestDb } from "../support/db";

/** A workspace on a throwaway database, with the pieces the Temporal engine's DB side needs. */
export interface TemporalHarness {
  db: TestDb;
  workspaceId: string;
  clock: { ms: number; now(): number };
  publish(document: unknown): Promise<{ journeyId: string; versionId: string; program: JourneyProgram }>;
  insertUsers(users: SimUser[]): Promise<void>;
  setTraits(userId: string, traits: Record<string, unknown>): Promise<void>;
  storeEvent(userId: string, name: string, properties?: Record<string, unknown>, at?: number): Promise<{ workspaceId: string; userId: string; messageId: string; name: string; properties: Record<string, unknown>; timestamp: number }>;
  /** Node events of a journey, as the engine-neutral scenario format reads them. */
  records(journeyId: string): Promise<ObservedRecord[]>;
  /** The sandbox provider: calls that reached it, by idempotency key. */
  providerCalls: SendMessageRequest[];
  sandbox: ReturnType<typeof createSandboxSender>;
  userUpdater: ReturnType<typeof createUserUpdater>;
  close(): Promise<void>;
}

export async function createTemporalHarness(start: number): Promise<TemporalHarness> {
  const db = await createTestDb();
  const clock = { ms: start, now: () => clock.ms };
  const [workspace] = await rows<{ id: string }>(db.db, sql`insert into workspaces (name, timezone) values (${`temporal-${randomUUID()}`}, 'Asia/Shanghai') returning id`);
  const actor = { workspaceId: workspace.id };
  const providerCalls: SendMessageRequest[] = [];
  const sandbox = createSandboxSender({ db: db.db, now: clock.now, onProviderCall: (d) => providerCalls.push(d.request) });
  return {
    db,
    workspaceId: workspace.id,
    clock,
    providerCalls,
    sandbox,
    userUpdater: createUserUpdater(db.db, clock.now),
    async publish(document) {
      const created = await createJourney(db.db, actor, { name: (document as { name?: string }).name ?? "journey", document });
      const published = await publishJourney(db.db, actor, { journeyId: created.id });
      if (!published.ok) throw new Error(`does not compile: ${published.errors.map((e) => e.message.en).join("; ")}`);
      return { journeyId: created.id, versionId: published.versionId, program: published.program };
    },
    async insertUsers(users) {
      await rows(
        db.db,
        sql`insert into users (workspace_id, id, traits, timezone)
            select ${workspace.id}::uuid, u, t::jsonb, z
            from unnest(${arr(users.map((u) => u.id))}::text[], ${arr(users.map((u) => JSON.stringify(u.traits ?? {})))}::text[],
                        ${arr(users.map((u) => u.timezone ?? null))}::text[]) as d(u, t, z)
            on conflict do nothing`,
      );
    },
    async setTraits(userId, traits) {
      await rows(db.db, sql`update users set traits = ${JSON.stringify(traits)}::jsonb where workspace_id = ${workspace.id}::uuid and id = ${userId}`);
    },
    async storeEvent(userId, name, properties = {}, at = clock.ms) {
      const messageId = randomUUID();
      await rows(
        db.db,
        sql`insert into events (workspace_id, message_id, user_id, name, properties, timestamp)
            values (${workspace.id}::uuid, ${messageId}, ${userId}, ${name}, ${JSON.stringify(properties)}::jsonb, ${iso(at)}::timestamptz)`,
      );
      return { workspaceId: workspace.id, userId, messageId, name, properties, timestamp: at };
    },
    async records(journeyId) {
      const found = await rows<{
        instance_id: string;
        seq: number;
        user_id: string;
        node_id: string | null;
        kind: string;
        output: string | null;
        reason: string | null;
        message_status: string | null;
        channel: string | null;
        data: Record<string, unknown> | null;
        at: number;
      }>(
        db.db,
        sql`select instance_id, seq, user_id, node_id, kind, output, reason, message_status, channel, data, ${epochMs(sql`at`)} as at
            from journey_node_events where journey_id = ${journeyId}::uuid order by instance_id, seq`,
      );
      return found.map((r) => {
        const data = r.data ?? {};
        const body: Record<string, unknown> = { kind: r.kind, nodeId: r.node_id };
        if (r.kind === "left") Object.assign(body, { output: r.output, ...(r.reason ? { reason: r.reason } : {}) });
        if (r.kind === "message") Object.assign(body, { status: r.message_status, channel: r.channel, ...(r.reason ? { reason: r.reason } : {}), ...data });
        if (r.kind === "retry" || r.kind === "tz_fallback" || r.kind === "exit") Object.assign(body, { reason: r.reason, ...data });
        if (r.kind === "conversion") Object.assign(body, data);
        return { ...body, userId: r.user_id, instanceId: r.instance_id, seq: r.seq, at: new Date(toMs(r.at)!).toISOString() } as unknown as ObservedRecord;
      });
    },
    close: () => db.drop(),
  };
}

/** A WorkflowGateway that records calls instead of talking to Temporal. */
export class RecordingGateway implements WorkflowGateway {
  readonly entered: Array<{ input: JourneyWorkflowInput; signal: EnterSignal }> = [];
  readonly signals: Array<{ workflowId: string; signal: EventSignal }> = [];
  readonly repairs: Array<{ input: JourneyWorkflowInput; signal: EventSignal }> = [];
  /** Workflow ids that exist (entered ones, unless removed to simulate a lost start). */
  readonly running = new Set<string>();
  failEnter = false;

  async enter(input: JourneyWorkflowInput, signal: EnterSignal): Promise<StartOutcome> {
    if (this.failEnter) throw new Error("Temporal unavailable");
    this.entered.push({ input, signal });
    this.running.add(input.instance.instanceId);
    return "signalled";
  }

  async signal(workflowId: string, signal: EventSignal): Promise<boolean> {
    if (!this.running.has(workflowId)) return false;
    this.signals.push({ workflowId, signal });
    return true;
  }

  async signalWithStart(input: JourneyWorkflowInput, signal: EventSignal): Promise<StartOutcome> {
    this.repairs.push({ input, signal });
    this.running.add(input.instance.instanceId);
    return "signalled";
  }

  readonly operations: Array<{ workflowId: string; action: OperatorAction }> = [];
  readonly holds: Array<{ workflowId: string; held: boolean }> = [];
  readonly restarts: JourneyWorkflowInput[] = [];

  /** Records the action; there is no workflow to apply it (the live suite covers that). */
  async operate(workflowId: string, action: OperatorAction): Promise<{ refused: "not_running" }> {
    this.operations.push({ workflowId, action });
    return { refused: "not_running" };
  }

  async hold(workflowId: string, signal: HoldSignal): Promise<boolean> {
    if (!this.running.has(workflowId)) return false;
    this.holds.push({ workflowId, held: signal.held });
    return true;
  }

  async restart(input: JourneyWorkflowInput): Promise<void> {
    this.restarts.push(input);
    this.running.add(input.instance.instanceId);
  }
}
