import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { createJourney, publishJourney, saveDraft, startEditing } from "../../app/lib/journeys.server";
import type { IncomingEvent } from "../../workflows/engine";
import { createEmbeddedEngine, type EmbeddedEngine, type EmbeddedEngineOptions } from "../../workflows/embedded/engine.server";
import { arr, epochMs, iso, rows, toMs } from "../../workflows/embedded/db.server";
import type { SimUser } from "../../workflows/simulate";
import type { ObservedRecord } from "../scenarios/format";
import { createTestDb, type TestDb } from "../support/db";

/** A virtual journey clock the test moves by hand. */
export class VirtualClock {
  constructor(public ms: number) {}
  now = (): Date => new Date(this.ms);
  set(ms: number): void {
    this.ms = ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface EngineHarness {
  db: TestDb;
  workspaceId: string;
  clock: VirtualClock;
  engine: EmbeddedEngine;
  /** Creates and publishes a journey; `programId` overrides the compiled program's id (holdout hashing). */
  publish(document: unknown, options?: { programId?: string }): Promise<{ journeyId: string; versionId: string }>;
  /** Publishes a new version of an existing journey. */
  republish(journeyId: string, document: unknown, options?: { programId?: string }): Promise<{ versionId: string }>;
  insertUsers(users: SimUser[]): Promise<void>;
  /** Stores an event (as ingestion would) and returns it for `handleEvents`. */
  storeEvent(userId: string, name: string, properties?: Record<string, unknown>, at?: number): Promise<IncomingEvent>;
  /** Node events of a journey as the engine-neutral ObservedRecord list. */
  records(journeyId: string): Promise<ObservedRecord[]>;
  close(): Promise<void>;
}

/**
 * An engine on a throwaway database with its own workspace. Pass `db` to share one database
 * between harnesses (PGlite starts slowly): each harness then works in a fresh workspace and
 * `close` deletes that workspace's rows instead of dropping the database.
 */
export async function createHarness(options: { start: number; timezone?: string; engine?: EmbeddedEngineOptions; db?: TestDb }): Promise<EngineHarness> {
  const db = options.db ?? (await createTestDb());
  const clock = new VirtualClock(options.start);
  const [workspace] = await rows<{ id: string }>(
    db.db,
    sql`insert into workspaces (name, timezone) values (${`test-${randomUUID()}`}, ${options.timezone ?? "Asia/Shanghai"}) returning id`,
  );
  const engine = createEmbeddedEngine({ db: db.db, now: clock.now, database: { kind: db.kind } }, options.engine);
  const actor = { workspaceId: workspace.id };

  const overrideId = async (versionId: string, programId?: string) => {
    if (!programId) return;
    await rows(db.db, sql`update journey_versions set program = jsonb_set(program, '{id}', to_jsonb(${programId}::text)) where id = ${versionId}::uuid`);
  };

  return {
    db,
    workspaceId: workspace.id,
    clock,
    engine,
    async publish(document, publishOptions = {}) {
      const name = (document as { name?: string }).name ?? "journey";
      const created = await createJourney(db.db, actor, { name, document });
      const published = await publishJourney(db.db, actor, { journeyId: created.id });
      if (!published.ok) throw new Error(`does not compile: ${published.errors.map((e) => e.message.en).join("; ")}`);
      await overrideId(published.versionId, publishOptions.programId);
      return { journeyId: created.id, versionId: published.versionId };
    },
    async republish(journeyId, document, publishOptions = {}) {
      const { revision } = await startEditing(db.db, actor, journeyId);
      await saveDraft(db.db, actor, { journeyId, baseRevision: revision, document });
      const published = await publishJourney(db.db, actor, { journeyId });
      if (!published.ok) throw new Error(`does not compile: ${published.errors.map((e) => e.message.en).join("; ")}`);
      await overrideId(published.versionId, publishOptions.programId);
      return { versionId: published.versionId };
    },
    async insertUsers(users) {
      if (users.length === 0) return;
      await rows(
        db.db,
        sql`insert into users (workspace_id, id, traits, timezone)
            select ${workspace.id}::uuid, u, t::jsonb, z
            from unnest(${arr(users.map((u) => u.id))}::text[], ${arr(users.map((u) => JSON.stringify(u.traits ?? {})))}::text[],
                        ${arr(users.map((u) => u.timezone ?? null))}::text[]) as d(u, t, z)
            on conflict do nothing`,
      );
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
    async close() {
      await engine.stop();
      if (!options.db) {
        await db.drop();
        return;
      }
      // Engine tables without foreign keys are cleared by hand; the rest cascades.
      for (const table of ["journey_outbox", "journey_node_events", "engine_effects", "messages"]) {
        await rows(db.db, sql`delete from ${sql.identifier(table)} where workspace_id = ${workspace.id}::uuid`);
      }
      await rows(db.db, sql`delete from journey_instance_events e using journey_instances i where i.id = e.instance_id and i.workspace_id = ${workspace.id}::uuid`);
      await rows(db.db, sql`delete from journey_timers t using journey_instances i where i.id = t.instance_id and i.workspace_id = ${workspace.id}::uuid`);
      await rows(db.db, sql`delete from journey_instances where workspace_id = ${workspace.id}::uuid`);
      await rows(db.db, sql`delete from journey_entry_ledger l using journeys j where j.id = l.journey_id and j.workspace_id = ${workspace.id}::uuid`);
      await rows(db.db, sql`delete from workspaces where id = ${workspace.id}::uuid`);
    },
  };
}
