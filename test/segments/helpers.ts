import { sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { query } from "../../db/client";
import { events, messages, users } from "../../db/schema";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import { compileRule } from "../../app/segments/compile.server";
import { invalidateSegmentInterest } from "../../app/segments/membership.server";
import { buildJourney } from "../../workflows/builder";
import { segmentDefinitionSchema, type Rule, type RuleGroup } from "../../app/segments/rules";
import type { TestApp } from "../support/app";

export const NOW = new Date("2026-06-01T00:00:00.000Z");
export const day = 86_400_000;
export const daysAgo = (n: number) => new Date(NOW.getTime() - n * day);

export function group(match: "all" | "any", ...rules: Rule[]): RuleGroup {
  return { kind: "group", match, rules };
}

/**
 * Ids of the users the rule selects at NOW, sorted. Parses first, as every real caller does, and
 * checks that the set-based form (whole-segment recompute) and the per-user form (incremental
 * evaluation) select the same users.
 */
export async function matching(app: TestApp, rule: Rule, now = NOW): Promise<string[]> {
  const root = segmentDefinitionSchema.parse(rule.kind === "group" ? rule : group("all", rule));
  const run = async (scoped: boolean) =>
    (
      await query<{ id: string }>(
        app.services.db,
        sql`select u.id from users u where u.workspace_id = ${app.workspaceId}::uuid and ${compileRule(root, { now, scoped })} order by u.id`,
      )
    ).map((r) => r.id);
  const [full, scoped] = [await run(false), await run(true)];
  if (JSON.stringify(full) !== JSON.stringify(scoped)) throw new Error(`set-based ${JSON.stringify(full)} != per-user ${JSON.stringify(scoped)}`);
  return full;
}

/** The SQL text and parameters drizzle sends for a rule (to check nothing was concatenated). */
export function compiledText(rule: Rule, now = NOW): { sql: string; params: unknown[] } {
  const root = segmentDefinitionSchema.parse(rule.kind === "group" ? rule : group("all", rule));
  return new PgDialect().sqlToQuery(compileRule(root, { now }));
}

export async function addUser(
  app: TestApp,
  id: string,
  options: { traits?: Record<string, unknown>; tags?: string[]; firstSeen?: Date; lastSeen?: Date } = {},
): Promise<void> {
  await app.services.db.insert(users).values({
    workspaceId: app.workspaceId,
    id,
    traits: options.traits ?? {},
    tags: options.tags ?? [],
    firstSeenAt: options.firstSeen ?? daysAgo(100),
    lastSeenAt: options.lastSeen ?? daysAgo(1),
  });
}

let seq = 0;
export async function addEvent(app: TestApp, userId: string, name: string, at: Date, properties: Record<string, unknown> = {}): Promise<void> {
  await app.services.db.insert(events).values({ workspaceId: app.workspaceId, messageId: `t-${++seq}-${userId}`, userId, name, properties, timestamp: at });
}

export async function addMessage(
  app: TestApp,
  userId: string,
  channel: "push" | "sms" | "email",
  state: "sent" | "delivered" | "opened" | "clicked" | "failed",
  at: Date,
  journeyId?: string,
): Promise<void> {
  const stamp = (s: string) => (["sent", "delivered", "opened", "clicked"].indexOf(s) <= ["sent", "delivered", "opened", "clicked"].indexOf(state) ? at : null);
  await app.services.db.insert(messages).values({
    workspaceId: app.workspaceId,
    idempotencyKey: `msg-${++seq}`,
    userId,
    journeyId: journeyId ?? null,
    channel,
    category: "marketing",
    state,
    sentAt: state === "failed" ? null : stamp("sent"),
    deliveredAt: state === "failed" ? null : stamp("delivered"),
    openedAt: state === "failed" ? null : stamp("opened"),
    clickedAt: state === "failed" ? null : stamp("clicked"),
    failedAt: state === "failed" ? at : null,
    createdAt: at,
  });
}

/**
 * Publishes a journey entered by the segment's entry (and one by its exit), so that segment's
 * changes are handed to the engine: changes of segments no journey uses are not.
 */
export async function listenTo(app: TestApp, segmentKey: string): Promise<void> {
  for (const source of ["segment_entry", "segment_exit"] as const) {
    const document = buildJourney({
      name: `${source} ${segmentKey}`,
      settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
      nodes: [
        { id: "trigger", type: "core.trigger", config: { source, segment: segmentKey } },
        { id: "exit", type: "core.exit", config: {} },
      ],
      edges: [["trigger", "next", "exit"]],
    });
    const journey = await createJourney(app.services.db, { workspaceId: app.workspaceId }, { name: document.name, document });
    const published = await publishJourney(app.services.db, { workspaceId: app.workspaceId }, { journeyId: journey.id });
    if (!published.ok) throw new Error(JSON.stringify(published.errors));
  }
  invalidateSegmentInterest(app.services, app.workspaceId);
}
