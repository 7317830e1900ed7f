import { sql } from "drizzle-orm";
import { query, type Database, type Db } from "../client";
import { events } from "../schema";
import type { RuntimeLogger } from "../../nodes/runtime";
import type { ActionServices, SendMessageRequest, SendMessageResponse } from "../../nodes/runtime";
import { failure, type Channel, type ChannelProvider, type OutboundMessage, type ProviderOutcome } from "../../nodes/channels/provider";
import { recordMessageNodeEvents } from "../../nodes/channels/runtime.server";
import { createMessagingService, type InternalUserEvent, type MessageNodeEvent } from "../../nodes/channels/send.server";
import { createGuardedFetch } from "../../nodes/net/outbound.server";
import { createAppEngine } from "../../workflows/embedded/app.server";
import { segmentChangeEvents } from "../../workflows/embedded/programs.server";
import { createUserUpdater } from "../../workflows/embedded/user-updates.server";
import type { IncomingEvent } from "../../workflows/engine";
import { demoJourneys } from "../../workflows/demo-journeys";
import {
  churnEntries,
  DAY,
  engagementAfterDelivery,
  HOUR,
  localHour,
  organicOrderAfterEntry,
  providerPlan,
  ridesOf,
  TimedQueue,
  uniform,
  type DemoJourneyRole,
  type ProviderPlan,
} from "./demo-behaviour";

/**
 * The demo's past: the last N days (30 by default) of the demo users going through the demo
 * journeys, run by the real embedded engine on a virtual clock (as bench/winback.ts drives it),
 * with the channels' real send service in front of sandbox providers that fail some deliveries
 * the way real ones do (db/seed/demo-behaviour.ts). Every node event, message, delivery report
 * and conversion is the engine's and the send service's own, dated when it happened in the
 * replayed month, so the node cards, the stats API and the journey report have a month of numbers
 * on first start; users still inside at the end continue on the app's engine in real time.
 *
 * What drives it: the demo users' stored sign-ups and orders of the period (handed to the engine
 * at their time, as ingestion would), churned buyers entering `churned_buyers` 30 days after their
 * last order, metro rides, and the users' answers to the messages they receive (opens, clicks,
 * returns to the app, orders: more after a delivered message than without one, so the holdout
 * converts less). See docs/decisions/0850-demo-history-replay.md.
 */

export interface DemoHistoryOptions {
  /** How far back the history starts. Default 30 days. */
  days?: number;
  /** The end of the replay (epoch ms); default the services' clock. */
  now?: number;
  /**
   * Virtual time moves in steps of this much, on whole multiples of it: what happened within a
   * step is applied at its end, then everything due runs (decision 0850). Default one hour.
   */
  stepMs?: number;
}

export interface DemoHistoryResult {
  days: number;
  /** Journey entries the engine made. */
  entries: number;
  /** Messages handed to the send service that went out (sent). */
  messagesSent: number;
  /** Orders the users placed in answer to messages or on their own (added to their history). */
  ordersAdded: number;
  /** Events added to the users' history (orders, opens, clicks, rides, returns, delivery reports). */
  eventsAdded: number;
  /** Engine passes (virtual-clock steps). */
  steps: number;
  elapsedMs: number;
}

export interface DemoHistoryServices {
  db: Db;
  database: Pick<Database, "kind">;
  log?: RuntimeLogger;
  now(): Date;
}

/** Events of the stored history the demo journeys react to (triggers, waits, goals). */
const REPLAYED_EVENTS = ["signed_up", "order_completed"];
const ROLES: DemoJourneyRole[] = ["winBack", "registered", "firstOrder", "fare"];
const WORKSPACE_ZONE_FALLBACK = "Asia/Shanghai";
const RECEIPT_CONCURRENCY = 32;
/** The demo journeys have no schedule triggers: passes skip the schedule check (a query each). */
const PASS = { schedules: false } as const;

type Stimulus =
  | { kind: "stored"; event: IncomingEvent }
  | { kind: "churned"; userId: string }
  | { kind: "ride"; userId: string; properties: Record<string, unknown> }
  | { kind: "order"; userId: string; reason: string }
  | { kind: "activity"; userId: string; name: string; properties: Record<string, unknown> }
  | { kind: "receipt"; messageId: string; userId: string; state: "delivered" | "opened" | "clicked" | "failed"; reason?: "not_delivered" | "bounced"; providerCode?: string; engage?: { role: DemoJourneyRole; nodeId: string; channel: Channel } };

interface UserInfo {
  zone: string | null;
  orders: number[];
  /** Trait changes from the replay, written back at the end. */
  added: { orders: number[]; amount: number; lastSeen: number } | null;
}

export async function replayDemoHistory(services: DemoHistoryServices, workspaceId: string, options: DemoHistoryOptions = {}): Promise<DemoHistoryResult> {
  const started = Date.now();
  const db = services.db;
  const days = options.days ?? 30;
  const end = options.now ?? services.now().getTime();
  const start = end - days * DAY;
  const stepMs = options.stepMs ?? HOUR;

  // The demo journeys by role (seedDemoJourneys created them by name).
  const names = demoJourneys().map((d) => d.name);
  const journeyRows = await query<{ id: string; name: string; workspace_zone: string | null }>(
    db,
    sql`select j.id::text as id, j.name, w.timezone as workspace_zone from journeys j join workspaces w on w.id = j.workspace_id
        where j.workspace_id = ${workspaceId}::uuid and j.name in (${sql.join(names.map((n) => sql`${n}`), sql`, `)})`,
  );
  const roleOf = new Map(journeyRows.map((j) => [j.id, ROLES[names.indexOf(j.name)]!]));
  const workspaceZone = journeyRows[0]?.workspace_zone ?? WORKSPACE_ZONE_FALLBACK;

  const users = new Map<string, UserInfo>();
  for (const u of await query<{ id: string; zone: string | null }>(
    db,
    sql`select id, coalesce(timezone, traits->>'timezone') as zone from users where workspace_id = ${workspaceId}::uuid and id like 'demo-%' order by id`,
  )) {
    users.set(u.id, { zone: u.zone || null, orders: [], added: null });
  }
  for (const o of await query<{ user_id: string; at: string | Date }>(
    db,
    sql`select user_id, timestamp as at from events where workspace_id = ${workspaceId}::uuid and name = 'order_completed' and user_id like 'demo-%'`,
  )) {
    users.get(o.user_id)?.orders.push(new Date(o.at).getTime());
  }
  for (const u of users.values()) u.orders.sort((a, b) => a - b);

  // ------------------------------------------------------------ what happens, and when
  const queue = new TimedQueue<Stimulus>();
  const stored = await query<{ message_id: string; user_id: string; name: string; properties: Record<string, unknown> | string; at: string | Date }>(
    db,
    sql`select message_id, user_id, name, properties, timestamp as at from events
        where workspace_id = ${workspaceId}::uuid and user_id like 'demo-%'
          and name in (${sql.join(REPLAYED_EVENTS.map((n) => sql`${n}`), sql`, `)})
          and timestamp >= ${new Date(start).toISOString()}::timestamptz and timestamp < ${new Date(end).toISOString()}::timestamptz
        order by timestamp, id`,
  );
  for (const e of stored) {
    const at = new Date(e.at).getTime();
    const properties = typeof e.properties === "string" ? (JSON.parse(e.properties) as Record<string, unknown>) : e.properties;
    queue.push(at, { kind: "stored", event: { workspaceId, userId: e.user_id, messageId: e.message_id, name: e.name, properties, timestamp: at } });
  }
  for (const [userId, user] of users) {
    for (const at of churnEntries(user.orders, start, end)) queue.push(at, { kind: "churned", userId });
    for (const ride of ridesOf(userId, start, end)) queue.push(ride.at, { kind: "ride", userId, properties: ride.properties });
  }

  // ------------------------------------------------------------ the engine and the channels
  let clock = start;
  const now = () => new Date(clock);
  const counts = { entries: 0, messagesSent: 0, ordersAdded: 0, eventsAdded: 0, steps: 0 };
  /** Receipts the sandbox will send for messages it accepted, by message id. */
  const plans = new Map<string, Extract<ProviderPlan, { kind: "accept" }>["receipt"]>();
  /**
   * Events of the current step: `store` — added to the users' history (the stored ones already
   * are, segment entries are not events); `feed` — handed to the engine (the rest only matter to
   * the report: opens, visits).
   */
  let outbox: Array<{ event: IncomingEvent; store: boolean; feed: boolean }> = [];
  let nodeEvents: MessageNodeEvent[] = [];

  const provider = (channel: Channel): ChannelProvider => {
    const p: ChannelProvider = {
      // The sandbox: nothing leaves the machine (the demo's Messages page names it so).
      id: "sandbox",
      channel,
      capabilities: { batch: true, maxBatchSize: 1000, idempotency: "native", deliveryReports: "callback" },
      async send(message: OutboundMessage): Promise<ProviderOutcome> {
        const plan = providerPlan(channel, message.to, message.messageId);
        if (plan.kind === "fail") return failure(plan.reason, { providerCode: plan.providerCode, retireAddress: plan.retireAddress, detail: "demo sandbox" });
        plans.set(message.messageId, plan.receipt);
        return { ok: true, providerMessageId: `sandbox:${message.messageId}`, state: "sent" };
      },
      sendBatch: (messages) => Promise.all(messages.map((m) => p.send(m))),
    };
    return p;
  };
  const providers = { push: provider("push"), sms: provider("sms"), email: provider("email") };

  const emit = (event: InternalUserEvent) => {
    outbox.push({
      store: true,
      feed: true,
      event: { workspaceId: event.workspaceId, userId: event.userId, messageId: event.messageId, name: event.name, properties: { ...event.properties }, timestamp: event.timestamp.getTime() },
    });
  };
  const messaging = createMessagingService({
    db,
    providers: async (_workspaceId, channel) => ({ provider: providers[channel], options: {} }),
    now,
    emitEvent: emit,
    // Kept and written once per step (the channels' recordMessageNodeEvents): one statement per message
    // state, with the analytics triggers each one fires, was most of the replay's time.
    recordNodeEvent: (event) => void nodeEvents.push(event),
    sleep: async () => {},
  });

  /** After a send: the sandbox's receipt, and what the user then does (decided on delivery). */
  const sendMessage = (workspaceId: string) => async (request: SendMessageRequest): Promise<SendMessageResponse> => {
    const response = await messaging.sendMessage({ ...request, workspaceId });
    if (response.status !== "sent" || !response.messageId) return response;
    counts.messagesSent += 1;
    const receipt = plans.get(response.messageId);
    plans.delete(response.messageId);
    const role = roleOf.get(request.journeyId);
    const engage = role ? { role, nodeId: request.nodeId, channel: request.channel as Channel } : undefined;
    if (receipt) {
      queue.push(clock + receipt.afterMs, {
        kind: "receipt",
        messageId: response.messageId,
        userId: request.userId,
        state: receipt.state,
        ...(receipt.state === "failed" ? { reason: receipt.reason, providerCode: receipt.providerCode } : {}),
        ...(receipt.state === "delivered" ? { engage } : {}),
      });
    } else if (request.channel === "email" && engage) {
      // No receipt for email: the user may still open it (which proves delivery).
      engageAfter(clock, response.messageId, request.userId, engage);
    }
    return response;
  };

  const engageAfter = (deliveredAt: number, messageId: string, userId: string, engage: { role: DemoJourneyRole; nodeId: string; channel: Channel }) => {
    const zone = users.get(userId)?.zone ?? null;
    const e = engagementAfterDelivery(engage.role, engage.nodeId, userId, messageId, localHour(deliveredAt, zone, workspaceZone));
    if (e.openAfterMs !== undefined) {
      const at = deliveredAt + e.openAfterMs;
      // An SMS is "opened" when its link is clicked; push and email have opens.
      queue.push(at, { kind: "receipt", messageId, userId, state: engage.channel === "sms" ? "clicked" : "opened" });
      if (engage.channel === "push") queue.push(at, { kind: "activity", userId, name: "push_opened", properties: { messageId } });
      if (engage.channel === "sms") queue.push(at, { kind: "activity", userId, name: "sms_link_clicked", properties: { messageId } });
      queue.push(at + 2_000, { kind: "activity", userId, name: "app_opened", properties: { from: engage.channel } });
    }
    if (e.clickAfterMs !== undefined && engage.channel === "email") queue.push(deliveredAt + e.clickAfterMs, { kind: "receipt", messageId, userId, state: "clicked" });
    if (e.orderAfterMs !== undefined) queue.push(deliveredAt + e.orderAfterMs, { kind: "order", userId, reason: `${engage.role}/${engage.nodeId}` });
    if (e.returnAfterMs !== undefined && e.openAfterMs === undefined) queue.push(deliveredAt + e.returnAfterMs, { kind: "activity", userId, name: "app_opened", properties: {} });
  };

  const updater = createUserUpdater(db, () => clock);
  const fetchLike = createGuardedFetch();
  const engine = createAppEngine(
    {
      db,
      now,
      log: services.log,
      database: services.database,
      actionServices: () => (workspaceId) =>
        ({ sendMessage: sendMessage(workspaceId), updateUser: updater(workspaceId), fetch: fetchLike, ...(services.log ? { log: services.log } : {}) }) satisfies ActionServices,
    },
    {
      // One event queue and large batches: the app's engine has not started, so fewer, larger
      // transactions beat the short ones that keep requests waiting less (decision 1002).
      lanes: 1,
      batchSize: 500,
      onEntry: (decision) => void (decision.entered ? (counts.entries += 1) : undefined),
    },
  );

  let sequence = 0;
  const userEvent = (userId: string, name: string, properties: Record<string, unknown>, at: number, feed: boolean) => {
    const user = users.get(userId);
    if (user) {
      user.added ??= { orders: [], amount: 0, lastSeen: at };
      user.added.lastSeen = Math.max(user.added.lastSeen, at);
    }
    outbox.push({ store: true, feed, event: { workspaceId, userId, messageId: `demo-history-${userId}-${at}-${sequence++}`, name, properties, timestamp: at } });
  };

  /** An order, unless the user already ordered within half a day of it (stored or replayed). */
  const order = (userId: string, at: number, reason: string) => {
    const user = users.get(userId);
    if (!user) return;
    if (user.orders.some((o) => Math.abs(o - at) < 12 * HOUR)) return;
    const amount = Math.round((40 + uniform("amount", userId, at) * 360) * 100) / 100;
    const category = ["food", "beauty", "electronics", "apparel", "home", "travel"][Math.floor(uniform("category", userId, at) * 6)];
    // Counted among the orders before it (a stored later order keeps its own count).
    const orderCount = user.orders.filter((o) => o < at).length + 1;
    user.orders.push(at);
    user.orders.sort((a, b) => a - b);
    userEvent(userId, "order_completed", { amount, currency: "CNY", category, order_count: orderCount, source: reason }, at, true);
    user.added!.orders.push(at);
    user.added!.amount += amount;
    counts.ordersAdded += 1;
  };

  /** New events for the users' history; stored together at the end (see storeEvents). */
  const history: IncomingEvent[] = [];

  /**
   * Writes the step's message node events and hands the engine the step's events it reacts to,
   * in time order, in one call (one transaction per batch of the engine).
   */
  const flush = async () => {
    if (nodeEvents.length > 0) {
      const batch = nodeEvents;
      nodeEvents = [];
      for (let i = 0; i < batch.length; i += 1000) await recordMessageNodeEvents(db, batch.slice(i, i + 1000));
    }
    while (outbox.length > 0) {
      const batch = outbox;
      outbox = [];
      batch.sort((a, b) => a.event.timestamp - b.event.timestamp);
      for (const b of batch) if (b.store) history.push(b.event);
      const feed = batch.filter((b) => b.feed).map((b) => b.event);
      if (feed.length > 0) await engine.handleEvents(feed);
    }
  };

  /** A provider's report at its own time (never later than the step it is applied in). */
  const receipt = async (at: number, s: Extract<Stimulus, { kind: "receipt" }>) => {
    const failure = s.state === "failed" ? { reason: s.reason ?? "not_delivered", providerCode: s.providerCode } : undefined;
    const row = await messaging.recordDelivery(s.messageId, s.state, new Date(Math.min(at, clock)), failure);
    if (row && s.state === "delivered" && s.engage) engageAfter(at, s.messageId, s.userId, s.engage);
  };

  const apply = async (items: Array<{ at: number; value: Stimulus }>) => {
    const receipts = new Map<string, Array<{ at: number; value: Extract<Stimulus, { kind: "receipt" }> }>>();
    for (const { at, value: s } of items) {
      switch (s.kind) {
        case "stored":
          outbox.push({ store: false, feed: true, event: s.event });
          break;
        case "churned": {
          for (const event of segmentChangeEvents([{ workspaceId, userId: s.userId, segmentId: "churned_buyers", change: "entered", at }])) {
            outbox.push({ store: false, feed: true, event });
          }
          const organic = organicOrderAfterEntry(s.userId, at);
          if (organic !== null) queue.push(at + organic, { kind: "order", userId: s.userId, reason: "organic" });
          break;
        }
        case "ride":
          userEvent(s.userId, "ride_completed", s.properties, at, true);
          break;
        case "order":
          order(s.userId, at, s.reason);
          break;
        case "activity":
          userEvent(s.userId, s.name, s.properties, at, false);
          break;
        case "receipt":
          receipts.set(s.messageId, [...(receipts.get(s.messageId) ?? []), { at, value: s }]);
          break;
      }
    }
    // Reports of different messages go together (the send service commits their writes in
    // groups); one message's reports keep their order (delivered before opened).
    await mapLimit([...receipts.values()], RECEIPT_CONCURRENCY, async (list) => {
      for (const r of list) await receipt(r.at, r.value);
    });
    await flush();
  };

  // ------------------------------------------------------------ the replay
  // Hour by hour (the step) on a grid of whole steps: timers set at a step plus whole hours or
  // days land on the grid too, so sends at the journey's 11:00 go out at 11:00; events are applied
  // at the end of the step they happened in, then everything due by then runs.
  for (clock = Math.ceil(start / stepMs) * stepMs; ; clock = Math.min(end, clock + stepMs)) {
    // What the step's events set off within the step (an open minutes after a delivery) too.
    while ((queue.peekAt() ?? Infinity) <= clock) await apply(queue.popUntil(clock));
    await engine.runUntilIdle(PASS);
    // Reports made while sending are handed over before the step ends; the engine runs again
    // only if they wake anyone.
    const wakes = outbox.some((o) => o.feed);
    await flush();
    if (wakes) await engine.runUntilIdle(PASS);
    counts.steps += 1;
    if (clock >= end) break;
  }
  // Receipts still on their way at the end arrive now; the users' later doings are not history.
  clock = end;
  const late = queue.popUntil(Number.POSITIVE_INFINITY).filter((s) => s.value.kind === "receipt" && (s.value.state === "delivered" || s.value.state === "failed"));
  for (const s of late) if (s.value.kind === "receipt") delete s.value.engage;
  await apply(late.map((s) => ({ at: end, value: s.value })));
  await engine.runUntilIdle(PASS);
  await flush();
  await engine.runUntilIdle(PASS);

  // The engine reads no stored events (the demo journeys have no event-history conditions), and
  // what the analytics derive from them (returns after a send) does not depend on the order of
  // inserts: one insert per thousand events instead of one per step.
  counts.eventsAdded = await storeEvents(db, history);
  await writeBackTraits(db, workspaceId, users);
  return { days, ...counts, elapsedMs: Date.now() - started };
}

async function storeEvents(db: Db, list: readonly IncomingEvent[]): Promise<number> {
  for (let i = 0; i < list.length; i += 1000) {
    await db
      .insert(events)
      .values(
        list.slice(i, i + 1000).map((event) => ({
          workspaceId: event.workspaceId,
          messageId: event.messageId,
          userId: event.userId,
          type: "track",
          name: event.name,
          properties: event.properties,
          timestamp: new Date(event.timestamp),
          receivedAt: new Date(event.timestamp),
        })),
      )
      .onConflictDoNothing();
  }
  return list.length;
}

/** Orders and visits of the replay reach the profiles: order count, last order, value, last seen. */
async function writeBackTraits(db: Db, workspaceId: string, users: Map<string, UserInfo>): Promise<void> {
  const changed = [...users].filter(([, u]) => u.added);
  for (let i = 0; i < changed.length; i += 500) {
    const rows = changed.slice(i, i + 500).map(([id, u]) => {
      const added = u.added!;
      const last = u.orders.at(-1);
      const patch: Record<string, unknown> = {};
      if (added.orders.length > 0 && last !== undefined) {
        patch.orders_count = u.orders.length;
        patch.last_order_at = new Date(last).toISOString();
        patch.replenish_at = new Date(last + (20 + Math.floor(uniform("replenish", id, last) * 20)) * DAY).toISOString();
      }
      return { id, patch, amount: added.amount, seen: new Date(added.lastSeen).toISOString() };
    });
    await query(
      db,
      sql`update users u
          set traits = u.traits || d.patch
                       || case when d.amount > 0 then jsonb_build_object('lifetime_value', round((coalesce((u.traits->>'lifetime_value')::numeric, 0) + d.amount)::numeric, 2)) else '{}'::jsonb end,
              last_seen_at = greatest(u.last_seen_at, d.seen), updated_at = now()
          from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as d(id text, patch jsonb, amount numeric, seen timestamptz)
          where u.workspace_id = ${workspaceId}::uuid and u.id = d.id`,
    );
  }
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}
