import { sql } from "drizzle-orm";
import { query } from "../../db/client";
import { users, workspaces } from "../../db/schema";
import type { Consent } from "../../db/schema/users";
import { createSandboxProvider } from "../../nodes/channels/sandbox/provider";
import { createMessagingService, type InternalUserEvent, type MessageNodeEvent, type MessageRequest, type MessagingDeps } from "../../nodes/channels/send.server";
import type { Channel, ChannelProvider } from "../../nodes/channels/provider";
import { policySettingsSchema } from "../../nodes/channels/policies/settings";
import { upsertDeviceToken } from "../../nodes/channels/store.server";
import type { TestDb } from "../support/db";

export async function createWorkspace(db: TestDb, timezone = "Asia/Shanghai"): Promise<string> {
  const [w] = await db.db.insert(workspaces).values({ name: `ws-${Math.random()}`, timezone }).returning({ id: workspaces.id });
  return w!.id;
}

export async function createUser(
  db: TestDb,
  workspaceId: string,
  id: string,
  over: { email?: string; phone?: string; timezone?: string | null; consent?: Consent; tokens?: string[]; traits?: Record<string, unknown> } = {},
): Promise<void> {
  await db.db.insert(users).values({
    workspaceId,
    id,
    email: over.email ?? `${id}@example.com`,
    phone: over.phone ?? "+8613800138000",
    timezone: over.timezone === undefined ? "Asia/Shanghai" : over.timezone,
    consent: over.consent ?? { push: { marketing: true }, sms: { marketing: true }, email: { marketing: true } },
    traits: over.traits ?? { name: id },
  });
  for (const token of over.tokens ?? [`token-${id}`]) await upsertDeviceToken(db.db, { workspaceId, userId: id, token, platform: "android" });
}

export function harness(db: TestDb, options: { providers?: Partial<Record<Channel, ChannelProvider>>; now?: () => Date; policy?: unknown; deps?: Partial<MessagingDeps>; providerOptions?: Record<string, unknown> } = {}) {
  const nodeEvents: MessageNodeEvent[] = [];
  const userEvents: InternalUserEvent[] = [];
  const policy = policySettingsSchema.parse(options.policy ?? {});
  const service = createMessagingService({
    db: db.db,
    providers: async (_ws, channel) => ({ provider: options.providers?.[channel] ?? createSandboxProvider(channel), options: options.providerOptions ?? {} }),
    policies: async () => policy,
    recordNodeEvent: (e) => void nodeEvents.push(e),
    emitEvent: (e) => void userEvents.push(e),
    now: options.now,
    trackingSecret: "tracking-secret",
    sleep: async () => {},
    ...options.deps,
  });
  return { service, nodeEvents, userEvents };
}

let seq = 0;
export function request(workspaceId: string, over: Partial<MessageRequest> = {}): MessageRequest {
  seq++;
  return {
    workspaceId,
    channel: "push",
    category: "marketing",
    content: { title: "我们想你了", body: "送你一张 ¥10 优惠券" },
    nodeId: "node-push",
    instanceId: `instance-${seq}`,
    journeyId: "journey-a",
    userId: "u1",
    idempotencyKey: `key-${seq}-${Math.random()}`,
    ...over,
  };
}

export async function messageRow(db: TestDb, id: string) {
  const rows = await query<Record<string, unknown>>(db.db, sql`select * from messages where id = ${id}`);
  return rows[0]!;
}

export async function historyStates(db: TestDb, id: string): Promise<string[]> {
  const rows = await query<{ state: string; reason: string | null }>(db.db, sql`select state, reason from message_state_history where message_id = ${id} order by id`);
  return rows.map((r) => (r.reason ? `${r.state}:${r.reason}` : r.state));
}
