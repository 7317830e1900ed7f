import { sql } from "drizzle-orm";
import { query } from "../../db/client";
import type { IncomingEvent } from "../../workflows/engine";
import type { AppServices } from "../services.server";

/**
 * No orphaned events (decision 1001). Ingestion stores a request's activity calls together with
 * one `event_routing_pending` row naming them, hands them to the engine, and deletes the row once
 * the engine has taken them. If the answer never comes (the process was killed between store and
 * routing, the engine refused, the database dropped the delete), the row stays, and the routing
 * sweep of any worker process offers those events to the engine again after `not_before`. The
 * engines are idempotent per messageId (receipts, entry keys), so a second offer changes nothing;
 * a client never has to resend for its events to reach journeys.
 */

const RUNTIME = Symbol.for("waypost.ingest.routing");

interface RoutingRuntime {
  done: Set<number>;
  flushing: Promise<void> | null;
}

function runtime(services: AppServices): RoutingRuntime {
  const holder = services as unknown as Record<symbol, RoutingRuntime | undefined>;
  let state = holder[RUNTIME];
  if (!state) {
    state = { done: new Set(), flushing: null };
    Object.defineProperty(services, RUNTIME, { value: state, enumerable: false });
  }
  return state;
}

/**
 * The engine took this marker's events: delete the marker. Deletes are gathered and run together
 * (one statement for every request answered meanwhile), off the request's path: a delete that is
 * lost only costs the sweep a harmless second offer.
 */
export function routed(services: AppServices, id: number | undefined): void {
  if (id === undefined) return;
  const state = runtime(services);
  state.done.add(id);
  if (state.flushing) return;
  state.flushing = (async () => {
    // Requests answered while a delete runs join the next one. (No timer here: a microtask keeps
    // this working under fake timers, and the round trip itself gathers the next group.)
    await Promise.resolve();
    while (state.done.size > 0) {
      const ids = [...state.done];
      state.done.clear();
      try {
        await query(services.db, sql`delete from event_routing_pending where id = any(${sql.param(ids.map(String))}::bigint[])`);
      } catch (error) {
        services.log.debug("routing marker delete failed; the sweep will offer those events again", { error: error instanceof Error ? error.message : String(error) });
      }
    }
    state.flushing = null;
  })();
}

/** Waits for gathered marker deletes (tests, shutdown). */
export async function flushRouted(services: AppServices): Promise<void> {
  await runtime(services).flushing;
}

export interface SweepOptions {
  /** Real time the markers are compared with (tests pass a later time instead of waiting). */
  realNow?: number;
  /** Markers per claim. */
  limit?: number;
}

/** Offers the events of due markers to the engine once; returns how many events were offered. */
export async function sweepUnrouted(services: AppServices, options: SweepOptions = {}): Promise<number> {
  const engine = services.engine;
  if (!engine) return 0;
  const at = new Date(options.realNow ?? Date.now()).toISOString();
  // Claim: move not_before past a lease so other sweeps skip these rows while this one works.
  const claimed = await query<{ id: number | string; workspace_id: string; message_ids: string[]; attempts: number }>(
    services.db,
    sql`update event_routing_pending p set not_before = ${at}::timestamptz + interval '2 minutes', attempts = p.attempts + 1
        from (select id from event_routing_pending where not_before <= ${at}::timestamptz order by not_before limit ${options.limit ?? 100} for update skip locked) c
        where p.id = c.id
        returning p.id, p.workspace_id, p.message_ids, p.attempts`,
  );
  let offered = 0;
  for (const marker of claimed) {
    try {
      const stored = await query<{ message_id: string; user_id: string; name: string; properties: Record<string, unknown> | null; ts: number | string }>(
        services.db,
        sql`select message_id, user_id, name, properties, (extract(epoch from timestamp) * 1000)::float8 as ts
            from events where workspace_id = ${marker.workspace_id}::uuid and message_id = any(${sql.param(marker.message_ids)}::text[])`,
      );
      // Per user in timestamp order, as ingestion hands them over.
      const events: IncomingEvent[] = stored
        .map((e) => ({ workspaceId: marker.workspace_id, userId: e.user_id, messageId: e.message_id, name: e.name, properties: e.properties ?? {}, timestamp: Number(e.ts) }))
        .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : a.timestamp - b.timestamp));
      if (events.length > 0) await engine.handleEvents(events);
      await query(services.db, sql`delete from event_routing_pending where id = ${String(marker.id)}::bigint`);
      offered += events.length;
      services.log.info("routed stored events that had not reached the journey engine", { workspaceId: marker.workspace_id, events: events.length, attempt: marker.attempts });
    } catch (error) {
      // Backs off: 10 s, 20 s, 40 s … up to 10 minutes between offers.
      const wait = Math.min(600, 10 * 2 ** Math.min(marker.attempts - 1, 6));
      const message = error instanceof Error ? error.message : String(error);
      services.log.warn("routing stored events to the journey engine failed; will retry", { workspaceId: marker.workspace_id, attempt: marker.attempts, retryInSeconds: wait, error: message });
      await query(
        services.db,
        sql`update event_routing_pending set not_before = now() + make_interval(secs => ${wait}::int), last_error = ${message.slice(0, 500)} where id = ${String(marker.id)}::bigint`,
      ).catch(() => undefined);
    }
  }
  return offered;
}

/** The sweep every `everyMs` in a worker process (`waypost start` with a worker, `waypost worker`). */
export function startRoutingSweep(services: AppServices, everyMs = 5_000): { stop(): Promise<void> } {
  let stopped = false;
  let current: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    if (stopped) return;
    current = sweepUnrouted(services)
      .catch((error: unknown) => services.log.warn("routing sweep failed", { error: error instanceof Error ? error.message : String(error) }))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, everyMs);
      });
  };
  timer = setTimeout(loop, everyMs);
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}
