import { and, desc, eq, ilike, sql } from "drizzle-orm";
import { query, type Db } from "../../db/client";
import { journeys, journeyVersions, operators, segments, type JourneyStatus } from "../../db/schema";
import { distinctEventNames } from "../segments/store.server";
import { recordAudit } from "./accounts.server";
import { assertTransition } from "./journey-transitions";
import { JourneyNotFoundError, type JourneyDetail } from "./journeys.server";
import type { JourneyDocument } from "../../workflows/document";

/** One row of the journeys list: what an operator scans to find the journey to open. */
export interface JourneyListItem {
  id: string;
  name: string;
  status: JourneyStatus;
  /** Number of the live version; null before the first publish. */
  liveVersion: number | null;
  hasDraft: boolean;
  updatedAt: Date;
  updatedBy: string | null;
  /** The live version sets a goal; without one the list shows no conversion rate (not "0%"). */
  hasGoal: boolean;
}

export interface JourneyListFilter {
  search?: string;
  status?: JourneyStatus;
}

/** Escapes LIKE wildcards so a search for "50%" means the text "50%". */
function likePattern(search: string): string {
  return `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export async function listJourneys(db: Db, workspaceId: string, filter: JourneyListFilter = {}): Promise<JourneyListItem[]> {
  const search = filter.search?.trim();
  const rows = await db
    .select({
      id: journeys.id,
      name: journeys.name,
      status: journeys.status,
      liveVersion: journeyVersions.version,
      hasDraft: sql<boolean>`exists (select 1 from journey_versions d where d.journey_id = ${journeys.id} and d.state = 'draft')`,
      updatedAt: journeys.updatedAt,
      updatedBy: operators.email,
      hasGoal: sql<boolean>`coalesce((${journeyVersions.document} -> 'settings' -> 'goal') is not null and (${journeyVersions.document} -> 'settings' -> 'goal') <> 'null'::jsonb, false)`,
    })
    .from(journeys)
    .leftJoin(journeyVersions, eq(journeyVersions.id, journeys.liveVersionId))
    .leftJoin(operators, eq(operators.id, journeys.updatedBy))
    .where(
      and(
        eq(journeys.workspaceId, workspaceId),
        filter.status ? eq(journeys.status, filter.status) : undefined,
        search ? ilike(journeys.name, likePattern(search)) : undefined,
      ),
    )
    .orderBy(desc(journeys.updatedAt));
  return rows.map((r) => ({ ...r, hasDraft: Boolean(r.hasDraft), hasGoal: Boolean(r.hasGoal) }));
}

/**
 * What the canvas needs to open a journey, as plain JSON (ISO dates) so a Remix loader and a
 * tRPC query hand the editor the same shape.
 */
export interface EditorJourney {
  id: string;
  name: string;
  status: JourneyStatus;
  live: { version: number; publishedAt: string | null; document: JourneyDocument } | null;
  draft: { revision: number; updatedAt: string; updatedBy: string | null; document: JourneyDocument } | null;
}

export function toEditorJourney(detail: JourneyDetail): EditorJourney {
  return {
    id: detail.id,
    name: detail.name,
    status: detail.status,
    live: detail.liveVersion
      ? {
          version: detail.liveVersion.version,
          publishedAt: detail.liveVersion.publishedAt?.toISOString() ?? null,
          document: detail.liveVersion.document,
        }
      : null,
    draft: detail.draft
      ? {
          revision: detail.draft.revision,
          updatedAt: detail.draft.updatedAt.toISOString(),
          updatedBy: detail.draft.updatedBy,
          document: detail.draft.document,
        }
      : null,
  };
}

/** The demo vocabulary (GLOSSARY.md), offered even before a workspace has data. */
const knownEvents = ["app_opened", "signed_up", "product_viewed", "added_to_cart", "order_completed", "coupon_redeemed", "ride_completed", "fare_deducted", "push_opened", "sms_link_clicked"];
const knownTraits = ["name", "email", "phone", "timezone", "city", "gender", "age_range", "lifetime_value", "orders_count", "last_order_at", "replenish_at", "tags"];

/**
 * Event and trait names and segment keys for the inspector's suggestions. Traits are sampled from a bounded number
 * of profiles so opening the canvas stays fast on a workspace with millions of users.
 */
export async function journeyVocabulary(db: Db, workspaceId: string): Promise<{ events: string[]; traits: string[]; segments: Array<{ key: string; name: string }> }> {
  // A loose index scan (one probe per name): DISTINCT over the events table read every event.
  const eventNames = await distinctEventNames(db, workspaceId, 200);
  const traitRows = await query<{ key: string }>(
    db,
    sql`select distinct jsonb_object_keys(traits) as key from (select traits from users where workspace_id = ${workspaceId} limit 500) sample`,
  );
  const segmentRows = await db.select({ key: segments.key, name: segments.name }).from(segments).where(eq(segments.workspaceId, workspaceId)).orderBy(segments.key).limit(500);
  const merge = (known: string[], found: string[]) => [...new Set([...known, ...found.filter((n) => !n.startsWith("$"))])].sort();
  return { events: merge(knownEvents, eventNames), traits: merge(knownTraits, traitRows.map((r) => r.key)), segments: segmentRows };
}

/**
 * Brings an archived journey back: paused if it was ever published (so nobody enters until the
 * operator resumes it on purpose), otherwise a draft again.
 */
export async function unarchiveJourney(db: Db, actor: { workspaceId: string; operatorId?: string | null }, journeyId: string): Promise<void> {
  const [journey] = await db
    .select({ liveVersionId: journeys.liveVersionId, status: journeys.status })
    .from(journeys)
    .where(and(eq(journeys.id, journeyId), eq(journeys.workspaceId, actor.workspaceId)));
  if (!journey) throw new JourneyNotFoundError(journeyId);
  assertTransition("unarchive", journey.status);
  await db
    .update(journeys)
    .set({ status: journey.liveVersionId ? "paused" : "draft", updatedAt: new Date(), updatedBy: actor.operatorId ?? null })
    .where(and(eq(journeys.id, journeyId), eq(journeys.status, "archived")));
  await recordAudit(db, { ...actor, action: "journey.unarchived", target: journeyId });
}
