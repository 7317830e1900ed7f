import { and, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { journeys, journeyVersions, operators, type JourneyStatus } from "../../db/schema";
import { JOURNEY_SCHEMA_VERSION, parseJourneyDocument, type DocumentError, type JourneyDocument } from "../../workflows/document";
import { compileJourney, type CompileError, type JourneyProgram } from "../../workflows/program";
import { rows, transaction } from "../../workflows/embedded/db.server";
import { setEmbeddedHold } from "../../workflows/embedded/operations.server";
import type { JourneyEngine } from "../../workflows/engine";
import type { TemporalEngine } from "../../workflows/temporal/engine";
import type { PauseChoice } from "../ops/views";
import { recordAudit } from "./accounts.server";
import { assertTransition } from "./journey-transitions";
import { workspacePublishChecks } from "./publish-checks.server";

/**
 * The journey store: drafts, immutable published versions, and the lifecycle around them.
 * A journey has at most one draft (version 0) while someone edits it; publishing compiles the
 * draft into a new numbered version, makes it live for new entries, and removes the draft.
 * Users already inside keep the version they entered (engines store the version id).
 */

export class JourneyNotFoundError extends Error {
  constructor(readonly journeyId: string) {
    super(`No journey ${journeyId} in this workspace.`);
  }
}

/** Someone else saved since this editor loaded the draft: nothing was overwritten. */
export class DraftConflictError extends Error {
  constructor(
    readonly current: { revision: number; updatedAt: Date; updatedBy: string | null },
  ) {
    super(
      `This draft was changed by ${current.updatedBy ?? "someone else"} at ${current.updatedAt.toISOString()} (revision ${current.revision}). Reload to see their changes; yours were not saved over them.`,
    );
  }
}

export class InvalidDocumentError extends Error {
  constructor(readonly errors: DocumentError[]) {
    super(`Invalid journey document: ${errors.map((e) => `${e.path || "(root)"}: ${e.message}`).join("; ")}`);
  }
}

export class NothingToPublishError extends Error {
  constructor() {
    super("There is no draft to publish: the live version is already current. Click Edit to make a new draft.");
  }
}

export function emptyDocument(name: string): JourneyDocument {
  return { schemaVersion: JOURNEY_SCHEMA_VERSION, name, settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] }, nodes: [], edges: [] };
}

function parseOrThrow(input: unknown): JourneyDocument {
  const parsed = parseJourneyDocument(input);
  if (!parsed.ok) throw new InvalidDocumentError(parsed.errors);
  return parsed.document;
}

interface Actor {
  workspaceId: string;
  operatorId?: string | null;
}

export async function createJourney(db: Db, actor: Actor, input: { name: string; document?: unknown }): Promise<{ id: string; draftId: string }> {
  const name = input.name.trim();
  if (!name) throw new InvalidDocumentError([{ path: "name", message: "A journey needs a name" }]);
  const document = input.document === undefined ? emptyDocument(name) : { ...parseOrThrow(input.document), name };
  return db.transaction(async (tx) => {
    const [journey] = await tx
      .insert(journeys)
      .values({ workspaceId: actor.workspaceId, name, createdBy: actor.operatorId ?? null, updatedBy: actor.operatorId ?? null })
      .returning({ id: journeys.id });
    const [draft] = await tx
      .insert(journeyVersions)
      .values({
        journeyId: journey.id,
        workspaceId: actor.workspaceId,
        version: 0,
        state: "draft",
        document,
        createdBy: actor.operatorId ?? null,
        updatedBy: actor.operatorId ?? null,
      })
      .returning({ id: journeyVersions.id });
    await recordAudit(tx as unknown as Db, { ...actor, action: "journey.created", target: journey.id, details: { name } });
    return { id: journey.id, draftId: draft.id };
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function requireJourney(db: Db, workspaceId: string, journeyId: string) {
  // A malformed id names no journey: not found, rather than a database error (a 500 on the editor page).
  if (!UUID.test(journeyId)) throw new JourneyNotFoundError(journeyId.slice(0, 100));
  const [journey] = await db
    .select()
    .from(journeys)
    .where(and(eq(journeys.id, journeyId), eq(journeys.workspaceId, workspaceId)))
    .limit(1);
  if (!journey) throw new JourneyNotFoundError(journeyId);
  return journey;
}

export interface JourneyDetail {
  id: string;
  name: string;
  status: JourneyStatus;
  liveVersion: { id: string; version: number; publishedAt: Date | null; document: JourneyDocument } | null;
  draft: { id: string; revision: number; updatedAt: Date; updatedBy: string | null; document: JourneyDocument } | null;
}

export async function getJourney(db: Db, workspaceId: string, journeyId: string): Promise<JourneyDetail> {
  const journey = await requireJourney(db, workspaceId, journeyId);
  const versions = await db
    .select({
      id: journeyVersions.id,
      version: journeyVersions.version,
      state: journeyVersions.state,
      document: journeyVersions.document,
      revision: journeyVersions.revision,
      updatedAt: journeyVersions.updatedAt,
      publishedAt: journeyVersions.publishedAt,
      updatedBy: operators.email,
    })
    .from(journeyVersions)
    .leftJoin(operators, eq(operators.id, journeyVersions.updatedBy))
    .where(
      and(
        eq(journeyVersions.journeyId, journeyId),
        journey.liveVersionId
          ? sql`(${journeyVersions.state} = 'draft' or ${journeyVersions.id} = ${journey.liveVersionId})`
          : eq(journeyVersions.state, "draft"),
      ),
    );
  const draft = versions.find((v) => v.state === "draft");
  const live = versions.find((v) => v.id === journey.liveVersionId);
  return {
    id: journey.id,
    name: journey.name,
    status: journey.status,
    liveVersion: live ? { id: live.id, version: live.version, publishedAt: live.publishedAt, document: live.document as unknown as JourneyDocument } : null,
    draft: draft
      ? { id: draft.id, revision: draft.revision, updatedAt: draft.updatedAt, updatedBy: draft.updatedBy, document: draft.document as unknown as JourneyDocument }
      : null,
  };
}

/**
 * Saves the draft if nobody saved since `baseRevision`; returns the new revision. Drafts may be
 * incomplete (they are compiled only on publish) but must be well-formed documents.
 */
export async function saveDraft(
  db: Db,
  actor: Actor,
  input: { journeyId: string; baseRevision: number; document: unknown },
): Promise<{ revision: number; updatedAt: Date }> {
  const journey = await requireJourney(db, actor.workspaceId, input.journeyId);
  if (journey.status === "archived") throw new InvalidDocumentError([{ path: "", message: "Archived journeys cannot be edited; restore it first." }]);
  const document = parseOrThrow(input.document);
  const now = new Date();
  const [saved] = await db
    .update(journeyVersions)
    .set({ document, revision: sql`${journeyVersions.revision} + 1`, updatedAt: now, updatedBy: actor.operatorId ?? null })
    .where(
      and(eq(journeyVersions.journeyId, input.journeyId), eq(journeyVersions.state, "draft"), eq(journeyVersions.revision, input.baseRevision)),
    )
    .returning({ revision: journeyVersions.revision, updatedAt: journeyVersions.updatedAt });
  if (!saved) {
    const current = await getJourney(db, actor.workspaceId, input.journeyId);
    if (!current.draft) throw new NothingToPublishError();
    throw new DraftConflictError({ revision: current.draft.revision, updatedAt: current.draft.updatedAt, updatedBy: current.draft.updatedBy });
  }
  if (document.name !== journey.name) {
    await db.update(journeys).set({ name: document.name, updatedAt: now, updatedBy: actor.operatorId ?? null }).where(eq(journeys.id, journey.id));
  } else {
    await db.update(journeys).set({ updatedAt: now, updatedBy: actor.operatorId ?? null }).where(eq(journeys.id, journey.id));
  }
  return saved;
}

/** "Edit" on a published journey: a new draft from the live version (or the existing draft). */
export async function startEditing(db: Db, actor: Actor, journeyId: string): Promise<{ draftId: string; revision: number }> {
  const detail = await getJourney(db, actor.workspaceId, journeyId);
  if (detail.draft) return { draftId: detail.draft.id, revision: detail.draft.revision };
  const document = detail.liveVersion?.document ?? emptyDocument(detail.name);
  const [draft] = await db
    .insert(journeyVersions)
    .values({ journeyId, workspaceId: actor.workspaceId, version: 0, state: "draft", document, createdBy: actor.operatorId ?? null, updatedBy: actor.operatorId ?? null })
    .onConflictDoNothing()
    .returning({ id: journeyVersions.id, revision: journeyVersions.revision });
  if (draft) return { draftId: draft.id, revision: draft.revision };
  const again = await getJourney(db, actor.workspaceId, journeyId);
  return { draftId: again.draft!.id, revision: again.draft!.revision };
}

export type PublishResult =
  /** `warnings`: what the operator should know but that does not stop the publish (copy that will be cut, no provider, unknown names). */
  | { ok: true; versionId: string; version: number; program: JourneyProgram; warnings: CompileError[] }
  | { ok: false; errors: CompileError[] };

/**
 * Compiles the draft; on success stores it as the next immutable version and makes it live.
 * `baseRevision`, when given, refuses to publish a draft that changed since the editor saw it.
 */
export async function publishJourney(db: Db, actor: Actor, input: { journeyId: string; baseRevision?: number }): Promise<PublishResult> {
  const detail = await getJourney(db, actor.workspaceId, input.journeyId);
  assertTransition("publish", detail.status);
  if (!detail.draft) throw new NothingToPublishError();
  if (input.baseRevision !== undefined && detail.draft.revision !== input.baseRevision) {
    throw new DraftConflictError({ revision: detail.draft.revision, updatedAt: detail.draft.updatedAt, updatedBy: detail.draft.updatedBy });
  }
  const compiled = compileJourney(detail.draft.document, { journeyId: input.journeyId });
  if (!compiled.ok) return { ok: false, errors: compiled.errors };
  const draftDocument = parseJourneyDocument(detail.draft.document);
  const workspaceProblems = draftDocument.ok ? await workspacePublishChecks(db, actor.workspaceId, draftDocument.document) : [];
  if (workspaceProblems.some((p) => p.severity !== "warning")) return { ok: false, errors: [...compiled.warnings, ...workspaceProblems] };
  const result = await db.transaction(async (tx) => {
    const [{ next }] = await tx
      .select({ next: sql<number>`coalesce(max(${journeyVersions.version}), 0)::int + 1` })
      .from(journeyVersions)
      .where(eq(journeyVersions.journeyId, input.journeyId));
    const now = new Date();
    // The draft row becomes the published version, so its id is stable from editor to engine.
    const [published] = await tx
      .update(journeyVersions)
      .set({
        version: next,
        state: "published",
        program: compiled.program as unknown as Record<string, unknown>,
        publishedAt: now,
        publishedBy: actor.operatorId ?? null,
      })
      .where(and(eq(journeyVersions.id, detail.draft!.id), eq(journeyVersions.state, "draft"), eq(journeyVersions.revision, detail.draft!.revision)))
      .returning({ id: journeyVersions.id });
    if (!published) throw new DraftConflictError({ revision: detail.draft!.revision, updatedAt: detail.draft!.updatedAt, updatedBy: detail.draft!.updatedBy });
    await tx
      .update(journeys)
      .set({ liveVersionId: published.id, status: detail.status === "paused" ? "paused" : "live", name: detail.draft!.document.name, updatedAt: now, updatedBy: actor.operatorId ?? null })
      .where(eq(journeys.id, input.journeyId));
    await recordAudit(tx as unknown as Db, { ...actor, action: "journey.published", target: input.journeyId, details: { version: next, nodes: detail.draft!.document.nodes.length } });
    return { versionId: published.id, version: next };
  });
  return { ok: true, ...result, program: compiled.program, warnings: [...compiled.warnings, ...workspaceProblems] };
}

/** Paused journeys admit no new users; users inside keep running. Resume makes it live again. */
/**
 * Changes a journey's status, and whether its users inside are held, in one transaction with the
 * audit entry (a pause names its choice). The embedded engine's instances are held or released
 * in that transaction, Temporal-driven ones right after it through `engine` (the app's engine):
 * every caller that can end a hold (resume, archive, a keep-running pause) should pass it.
 */
export async function setJourneyStatus(
  db: Db,
  actor: Actor,
  journeyId: string,
  status: "live" | "paused" | "archived",
  options: { inside?: PauseChoice; engine?: JourneyEngine } = {},
): Promise<{ held: boolean; holdChanged: boolean }> {
  await requireJourney(db, actor.workspaceId, journeyId);
  const inside = options.inside ?? "keep_running";
  const held = status === "paused" && inside === "hold";
  const result = await transaction(db, async (tx) => {
    const [before] = await rows<{ held: boolean; status: JourneyStatus }>(tx, sql`select held, status from journeys where id = ${journeyId}::uuid for update`);
    // Checked on the locked row, so two operators racing cannot both change it from a stale state.
    assertTransition(status === "live" ? "resume" : status === "paused" ? "pause" : "archive", before.status);
    const holdChanged = before.held !== held;
    if (holdChanged) await setEmbeddedHold(tx, journeyId, held, Date.now());
    await rows(tx, sql`update journeys set status = ${status}, updated_at = now(), updated_by = ${actor.operatorId ?? null} where id = ${journeyId}::uuid`);
    await recordAudit(tx as unknown as Db, {
      ...actor,
      action: `journey.${status === "live" ? "resumed" : status}`,
      target: journeyId,
      ...(status === "paused" ? { details: { inside } } : {}),
    });
    return { held, holdChanged };
  });
  if (result.holdChanged && options.engine?.kind === "temporal") await (options.engine as TemporalEngine).holdInstances(journeyId, held);
  return result;
}

export async function renameJourney(db: Db, actor: Actor, journeyId: string, name: string): Promise<void> {
  const trimmed = name.trim();
  if (!trimmed) throw new InvalidDocumentError([{ path: "name", message: "A journey needs a name" }]);
  await requireJourney(db, actor.workspaceId, journeyId);
  await db.transaction(async (tx) => {
    await tx.update(journeys).set({ name: trimmed, updatedAt: new Date(), updatedBy: actor.operatorId ?? null }).where(eq(journeys.id, journeyId));
    await tx
      .update(journeyVersions)
      .set({ document: sql`jsonb_set(${journeyVersions.document}, '{name}', to_jsonb(${trimmed}::text))`, revision: sql`${journeyVersions.revision} + 1` })
      .where(and(eq(journeyVersions.journeyId, journeyId), eq(journeyVersions.state, "draft")));
  });
}

/** A copy as a new draft journey (the latest draft, else the live version). */
export async function duplicateJourney(db: Db, actor: Actor, journeyId: string, name?: string): Promise<{ id: string }> {
  const detail = await getJourney(db, actor.workspaceId, journeyId);
  const document = detail.draft?.document ?? detail.liveVersion?.document ?? emptyDocument(detail.name);
  const created = await createJourney(db, actor, { name: name ?? `${detail.name} (copy)`, document });
  return { id: created.id };
}

/** The document of a version (default: draft if any, else live). */
export async function exportJourney(db: Db, workspaceId: string, journeyId: string, version?: number): Promise<JourneyDocument> {
  await requireJourney(db, workspaceId, journeyId);
  if (version !== undefined) {
    const [row] = await db
      .select({ document: journeyVersions.document })
      .from(journeyVersions)
      .where(and(eq(journeyVersions.journeyId, journeyId), eq(journeyVersions.version, version), eq(journeyVersions.state, "published")));
    if (!row) throw new JourneyNotFoundError(`${journeyId} version ${version}`);
    return row.document as unknown as JourneyDocument;
  }
  const detail = await getJourney(db, workspaceId, journeyId);
  return (detail.draft?.document ?? detail.liveVersion?.document)!;
}

/** Imports a document as a new draft journey; invalid documents are refused with field paths. */
export async function importJourney(db: Db, actor: Actor, input: unknown, name?: string): Promise<{ id: string }> {
  const document = parseOrThrow(input);
  const created = await createJourney(db, actor, { name: name ?? document.name, document });
  return { id: created.id };
}

export interface VersionSummary {
  id: string;
  version: number;
  publishedAt: Date | null;
  publishedBy: string | null;
  nodeCount: number;
  edgeCount: number;
}

/** Version history: who published what, newest first, with node counts. */
export async function listVersions(db: Db, workspaceId: string, journeyId: string): Promise<VersionSummary[]> {
  await requireJourney(db, workspaceId, journeyId);
  const rows = await db
    .select({
      id: journeyVersions.id,
      version: journeyVersions.version,
      publishedAt: journeyVersions.publishedAt,
      publishedBy: operators.email,
      nodeCount: sql<number>`jsonb_array_length(${journeyVersions.document}->'nodes')::int`,
      edgeCount: sql<number>`jsonb_array_length(${journeyVersions.document}->'edges')::int`,
    })
    .from(journeyVersions)
    .leftJoin(operators, eq(operators.id, journeyVersions.publishedBy))
    .where(and(eq(journeyVersions.journeyId, journeyId), eq(journeyVersions.state, "published")))
    .orderBy(desc(journeyVersions.version));
  return rows;
}

/** Makes an old version's document the draft (creating one if needed); publish to make it live. */
export async function restoreVersion(db: Db, actor: Actor, journeyId: string, version: number): Promise<{ revision: number }> {
  const document = await exportJourney(db, actor.workspaceId, journeyId, version);
  const { revision } = await startEditing(db, actor, journeyId);
  const saved = await saveDraft(db, actor, { journeyId, baseRevision: revision, document });
  await recordAudit(db, { ...actor, action: "journey.version_restored", target: journeyId, details: { version } });
  return { revision: saved.revision };
}

/** Published program of a version, for the engines (never recompiled at run time). */
export async function loadProgram(db: Db, versionId: string): Promise<JourneyProgram | null> {
  const [row] = await db.select({ program: journeyVersions.program }).from(journeyVersions).where(eq(journeyVersions.id, versionId));
  return (row?.program as unknown as JourneyProgram) ?? null;
}

/** Live (not paused/archived) journeys of a workspace with their live programs: what new users may enter. */
export async function listLiveJourneys(db: Db, workspaceId?: string): Promise<{ journeyId: string; workspaceId: string; versionId: string; program: JourneyProgram }[]> {
  const rows = await db
    .select({ journeyId: journeys.id, workspaceId: journeys.workspaceId, versionId: journeyVersions.id, program: journeyVersions.program })
    .from(journeys)
    .innerJoin(journeyVersions, eq(journeyVersions.id, journeys.liveVersionId))
    .where(workspaceId ? and(eq(journeys.status, "live"), eq(journeys.workspaceId, workspaceId)) : eq(journeys.status, "live"));
  return rows.map((r) => ({ ...r, program: r.program as unknown as JourneyProgram }));
}
