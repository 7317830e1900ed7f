import { randomBytes } from "node:crypto";
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import { query, type Db } from "../../db/client";
import { segmentMembers, segments, type SegmentPreset } from "../../db/schema";
import { recordAudit } from "../lib/accounts.server";
import type { AppServices } from "../services.server";
import { compileRule } from "./compile.server";
import { evaluateSegment, notifyEngine, segmentRuntime, type LiveSegment } from "./membership.server";
import { presetDefinition, presetParams, presetSpecs } from "./presets";
import { dependenciesOf, describeRule, isTimeDependent, segmentDefinitionSchema, type RuleGroup } from "./rules";

/** Segment CRUD, audience previews and member lists, shared by tRPC, the REST API and the CLI. */

export class SegmentError extends Error {
  constructor(
    readonly code: "not_found" | "invalid" | "key_taken",
    message: string,
    readonly issues?: { path: string; message: string }[],
  ) {
    super(message);
    this.name = "SegmentError";
  }
}

export const segmentKeySchema = z
  .string()
  .regex(/^[a-z][a-z0-9_]{1,63}$/, "lower-case letters, digits and _, starting with a letter (2–64 characters)");

export const segmentInputSchema = z.object({
  name: z.string().trim().min(1, "Give the segment a name").max(120),
  key: segmentKeySchema.optional(),
  description: z.string().trim().max(1000).default(""),
  definition: segmentDefinitionSchema,
});
export type SegmentInput = z.input<typeof segmentInputSchema>;

const summaryColumns = {
  id: segments.id,
  key: segments.key,
  name: segments.name,
  description: segments.description,
  definition: segments.definition,
  preset: segments.preset,
  timeDependent: segments.timeDependent,
  memberCount: segments.memberCount,
  computedAt: segments.computedAt,
  createdAt: segments.createdAt,
  updatedAt: segments.updatedAt,
};

export type SegmentSummary = Awaited<ReturnType<typeof listSegments>>[number];

export function listSegments(db: Db, workspaceId: string) {
  return db
    .select(summaryColumns)
    .from(segments)
    .where(and(eq(segments.workspaceId, workspaceId), isNull(segments.archivedAt)))
    .orderBy(segments.createdAt);
}

/** By id (uuid) or key. */
export async function getSegment(db: Db, workspaceId: string, idOrKey: string) {
  const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(idOrKey);
  const [row] = await db
    .select(summaryColumns)
    .from(segments)
    .where(and(eq(segments.workspaceId, workspaceId), isNull(segments.archivedAt), isUuid ? eq(segments.id, idOrKey) : eq(segments.key, idOrKey)))
    .limit(1);
  if (!row) throw new SegmentError("not_found", `No segment "${idOrKey}" in this workspace.`);
  return row;
}

function parseDefinition(definition: unknown): RuleGroup {
  const parsed = segmentDefinitionSchema.safeParse(definition);
  if (!parsed.success) {
    throw new SegmentError(
      "invalid",
      "The segment rules are not valid.",
      parsed.error.issues.map((i) => ({ path: ["definition", ...i.path].join("."), message: i.message })),
    );
  }
  return parsed.data;
}

function slug(name: string): string {
  const base = name
    .normalize("NFKD")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .replace(/^([0-9])/, "s_$1")
    .slice(0, 48);
  return base.length >= 2 ? base : `segment_${randomBytes(4).toString("hex")}`;
}

async function freeKey(db: Db, workspaceId: string, wanted: string): Promise<string> {
  const taken = new Set(
    (
      await query<{ key: string }>(db, sql`select key from segments where workspace_id = ${workspaceId}::uuid and key like ${wanted.replace(/_/g, "\\_") + "%"}`)
    ).map((r) => r.key),
  );
  if (!taken.has(wanted)) return wanted;
  for (let n = 2; ; n++) if (!taken.has(`${wanted}_${n}`)) return `${wanted}_${n}`;
}

function live(row: { id: string; key: string; definition: RuleGroup }, workspaceId: string): LiveSegment {
  return {
    id: row.id,
    workspaceId,
    key: row.key,
    definition: row.definition,
    dependencies: dependenciesOf(row.definition),
    timeDependent: isTimeDependent(row.definition),
  };
}

export interface Actor {
  operatorId?: string | null;
}

/** Creates a segment and computes its members (without notifying journeys: none can use it yet). */
export async function createSegment(
  services: AppServices,
  workspaceId: string,
  input: SegmentInput & { preset?: SegmentPreset },
  actor: Actor = {},
) {
  const parsed = segmentInputSchema.safeParse(input);
  if (!parsed.success) {
    throw new SegmentError("invalid", "The segment is not valid.", parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })));
  }
  const { name, description, definition } = parsed.data;
  let key = parsed.data.key;
  if (key) {
    const [exists] = await query(services.db, sql`select 1 from segments where workspace_id = ${workspaceId}::uuid and key = ${key}`);
    if (exists) throw new SegmentError("key_taken", `The key "${key}" is already used by another segment.`, [{ path: "key", message: "already used" }]);
  } else key = await freeKey(services.db, workspaceId, slug(name));
  const [row] = await services.db
    .insert(segments)
    .values({
      workspaceId,
      key,
      name,
      description,
      definition: definition as unknown as Record<string, unknown>,
      preset: input.preset ?? null,
      dependencies: dependenciesOf(definition),
      timeDependent: isTimeDependent(definition),
      createdBy: actor.operatorId ?? null,
    })
    .returning({ id: segments.id });
  await evaluateSegment(services.db, live({ id: row.id, key, definition }, workspaceId), null, services.now(), { notify: false });
  segmentRuntime(services).evaluator.invalidate(workspaceId);
  await recordAudit(services.db, { workspaceId, operatorId: actor.operatorId ?? null, action: "segment.created", target: key, details: { name } });
  return getSegment(services.db, workspaceId, row.id);
}

/**
 * Renames and/or replaces the rules. New rules recompute membership at once; the entries and
 * exits they cause reach journeys like any other.
 */
export async function updateSegment(
  services: AppServices,
  workspaceId: string,
  idOrKey: string,
  patch: { name?: string; description?: string; definition?: unknown; presetParams?: Record<string, unknown> },
  actor: Actor = {},
) {
  const current = await getSegment(services.db, workspaceId, idOrKey);
  let definition: RuleGroup | undefined;
  let preset = current.preset;
  if (patch.presetParams) {
    if (!preset) throw new SegmentError("invalid", "Only preset segments have thresholds.");
    let params;
    try {
      params = presetParams(preset.family, patch.presetParams);
    } catch (error) {
      const issues = error instanceof z.ZodError ? error.issues.map((i) => ({ path: ["params", ...i.path].join("."), message: i.message })) : undefined;
      throw new SegmentError("invalid", "The thresholds are not valid.", issues);
    }
    preset = { ...preset, params: params as Record<string, number | string> };
    definition = presetDefinition(preset.family, preset.stage, preset.params);
  } else if (patch.definition !== undefined) {
    definition = parseDefinition(patch.definition);
    // Hand-edited rules are no longer the preset's.
    preset = null;
  }
  const name = patch.name?.trim();
  if (name !== undefined && (name.length === 0 || name.length > 120)) {
    throw new SegmentError("invalid", "Give the segment a name (at most 120 characters).", [{ path: "name", message: "1–120 characters" }]);
  }
  await services.db
    .update(segments)
    .set({
      ...(name !== undefined ? { name } : {}),
      ...(patch.description !== undefined ? { description: patch.description.slice(0, 1000) } : {}),
      ...(definition
        ? {
            definition: definition as unknown as Record<string, unknown>,
            dependencies: dependenciesOf(definition),
            timeDependent: isTimeDependent(definition),
            preset,
          }
        : {}),
      updatedAt: services.now(),
    })
    .where(and(eq(segments.id, current.id), eq(segments.workspaceId, workspaceId)));
  if (definition) {
    const changes = await evaluateSegment(services.db, live({ id: current.id, key: current.key, definition }, workspaceId), null, services.now(), { notify: true });
    await notifyEngine(services, changes);
  }
  segmentRuntime(services).evaluator.invalidate(workspaceId);
  await recordAudit(services.db, {
    workspaceId,
    operatorId: actor.operatorId ?? null,
    action: "segment.updated",
    target: current.key,
    details: definition ? { rules: describeRule(definition, "en") } : {},
  });
  return getSegment(services.db, workspaceId, current.id);
}

/** Archived segments stop being evaluated; their members and history are kept. */
export async function archiveSegment(services: AppServices, workspaceId: string, idOrKey: string, actor: Actor = {}): Promise<void> {
  const current = await getSegment(services.db, workspaceId, idOrKey);
  await services.db.update(segments).set({ archivedAt: services.now() }).where(eq(segments.id, current.id));
  segmentRuntime(services).evaluator.invalidate(workspaceId);
  await recordAudit(services.db, { workspaceId, operatorId: actor.operatorId ?? null, action: "segment.archived", target: current.key });
}

/** How many users the rules select right now (the builder's live audience preview). */
export async function previewCount(services: AppServices, workspaceId: string, definition: unknown): Promise<number> {
  const rules = parseDefinition(definition);
  const condition = compileRule(rules, { now: services.now() });
  const [row] = await query<{ n: number | string }>(
    services.db,
    sql`select count(*) as n from users u where u.workspace_id = ${workspaceId}::uuid and ${condition}`,
  );
  return Number(row?.n ?? 0);
}

/** Live member count (the cached one is on the segment row). */
export async function countMembers(db: Db, segmentId: string): Promise<number> {
  const [row] = await query<{ n: number | string }>(db, sql`select count(*) as n from segment_members where segment_id = ${segmentId}::uuid`);
  return Number(row?.n ?? 0);
}

/** Members, newest entries first, keyset-paginated by (entered_at, user_id). */
export async function listMembers(db: Db, workspaceId: string, segmentId: string, options: { limit?: number; after?: { enteredAt: string; userId: string } } = {}) {
  const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
  const after = options.after
    ? sql` and (sm.entered_at, sm.user_id) < (${options.after.enteredAt}::timestamptz, ${options.after.userId}::text)`
    : sql``;
  const rows = await query<{ user_id: string; entered_at: Date | string; email: string | null; phone: string | null; name: unknown; last_seen_at: Date | string | null }>(
    db,
    sql`select sm.user_id, sm.entered_at, u.email, u.phone, u.traits -> 'name' as name, u.last_seen_at
        from segment_members sm left join users u on u.workspace_id = sm.workspace_id and u.id = sm.user_id
        where sm.segment_id = ${segmentId}::uuid and sm.workspace_id = ${workspaceId}::uuid${after}
        order by sm.entered_at desc, sm.user_id desc limit ${limit}`,
  );
  return rows.map((r) => ({
    userId: r.user_id,
    enteredAt: new Date(r.entered_at).toISOString(),
    email: r.email,
    phone: r.phone,
    name: typeof r.name === "string" ? r.name : null,
    lastSeenAt: r.last_seen_at ? new Date(r.last_seen_at).toISOString() : null,
  }));
}

/** The segments a user is in now. */
export function userSegments(db: Db, workspaceId: string, userId: string) {
  return db
    .select({ id: segments.id, key: segments.key, name: segments.name, enteredAt: segmentMembers.enteredAt })
    .from(segmentMembers)
    .innerJoin(segments, eq(segments.id, segmentMembers.segmentId))
    .where(and(eq(segmentMembers.workspaceId, workspaceId), eq(segmentMembers.userId, userId), isNull(segments.archivedAt)))
    .orderBy(desc(segmentMembers.enteredAt));
}

/**
 * Creates the preset segments of a family that do not exist yet (by key), named in the
 * workspace's language. Idempotent.
 */
export async function ensurePresetSegments(
  services: AppServices,
  workspaceId: string,
  family: "lifecycle" | "rfm",
  options: { locale?: "en" | "zh"; params?: Record<string, unknown> } = {},
  actor: Actor = {},
) {
  const existing = new Set((await listSegments(services.db, workspaceId)).map((s) => s.key));
  const params = presetParams(family, options.params ?? {}) as Record<string, number | string>;
  const created = [];
  for (const spec of presetSpecs.filter((p) => p.family === family)) {
    if (existing.has(spec.key)) continue;
    const locale = options.locale ?? "zh";
    created.push(
      await createSegment(
        services,
        workspaceId,
        {
          key: spec.key,
          name: spec.name[locale],
          description: "",
          definition: presetDefinition(family, spec.stage, params),
          preset: { family, stage: spec.stage, params },
        },
        actor,
      ),
    );
  }
  return created;
}

/** The segment the demo win-back journey enters from: bought before, no order in 30 days. */
export function churnedBuyersDefinition(): RuleGroup {
  return {
    kind: "group",
    match: "all",
    rules: [
      { kind: "event", event: "order_completed", filters: [], check: "did" },
      { kind: "last_event", event: "order_completed", filters: [], op: "not_within", within: { amount: 30, unit: "days" } },
    ],
  };
}

/** Demo segments: lifecycle presets, RFM tiers and `churned_buyers` (used by the demo journeys). */
export async function seedDemoSegments(services: AppServices, workspaceId: string): Promise<void> {
  await ensurePresetSegments(services, workspaceId, "lifecycle");
  await ensurePresetSegments(services, workspaceId, "rfm");
  const existing = new Set((await listSegments(services.db, workspaceId)).map((s) => s.key));
  if (!existing.has("churned_buyers")) {
    await createSegment(services, workspaceId, {
      key: "churned_buyers",
      name: "流失买家 · Churned buyers",
      description: "Bought before, no order in the last 30 days (win-back journey).",
      definition: churnedBuyersDefinition(),
    });
  }
}

/**
 * Distinct event names by a loose index scan over events_name_time_idx: one index probe per
 * name, so it stays instant with millions of events.
 */
export async function distinctEventNames(db: Db, workspaceId: string, limit = 300): Promise<string[]> {
  const rows = await query<{ name: string }>(
    db,
    sql`with recursive names as (
          (select name from events where workspace_id = ${workspaceId}::uuid order by name limit 1)
          union all
          select (select e.name from events e where e.workspace_id = ${workspaceId}::uuid and e.name > n.name order by e.name limit 1)
          from names n where n.name is not null
        )
        select name from names where name is not null limit ${limit}`,
  );
  return rows.map((r) => r.name);
}
