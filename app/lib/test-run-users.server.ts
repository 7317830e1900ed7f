import { sql } from "drizzle-orm";
import { query, type Db } from "../../db/client";
import type { ConsentMap, Suppression } from "../../nodes/channels/policies/consent";
import type { SimUser } from "../../workflows/simulate";
import { loadPolicySettings } from "../../nodes/channels/settings.server";

/**
 * The workspace's sending policies for the test run. Route modules reach the runtime's server
 * code through this app/*.server file: the classic compiler only drops app/ server modules from
 * the browser bundle.
 */
export const testRunPolicies = loadPolicySettings;

/**
 * Real users for a test run, with what the sending policies need to decide as the engine would:
 * consent, suppression-list entries and whether each channel has an address. Nothing is sent.
 */

export const MAX_TEST_RUN_USERS = 200;

type Channel = "push" | "sms" | "email";

type Row = {
  id: string;
  timezone: string | null;
  traits: Record<string, unknown>;
  email: string | null;
  phone: string | null;
  tags: string[];
  consent: ConsentMap;
  tokens: number;
  suppressions: Array<{ channel: Channel; scope: Suppression["scope"]; reason: Suppression["reason"] }> | null;
};

export async function testRunUsers(db: Db, workspaceId: string, pick: { ids: string[] } | { segment: string; limit: number }): Promise<{ users: SimUser[]; missing: string[] }> {
  const which =
    "ids" in pick
      ? sql`u.id = any(${pick.ids}::text[])`
      : sql`u.id in (select m.user_id from segment_members m join segments s on s.id = m.segment_id
                     where s.workspace_id = ${workspaceId}::uuid and s.key = ${pick.segment} order by m.user_id limit ${Math.min(pick.limit, MAX_TEST_RUN_USERS)})`;
  const rows = await query<Row>(
    db,
    sql`select u.id, u.timezone, u.traits, u.email, u.phone, u.tags, u.consent,
               (select count(*)::int from device_tokens d where d.workspace_id = u.workspace_id and d.user_id = u.id) as tokens,
               (select jsonb_agg(jsonb_build_object('channel', s.channel, 'scope', s.scope, 'reason', s.reason)) from suppressions s
                 where s.workspace_id = u.workspace_id and (s.user_id = u.id or s.address = u.email or s.address = u.phone)) as suppressions
        from users u where u.workspace_id = ${workspaceId}::uuid and ${which} order by u.id limit ${MAX_TEST_RUN_USERS}`,
  );
  const users = rows.map<SimUser>((r) => {
    const suppressions: Partial<Record<Channel, Suppression[]>> = {};
    for (const s of r.suppressions ?? []) (suppressions[s.channel] ??= []).push({ scope: s.scope, reason: s.reason });
    return {
      id: r.id,
      timezone: r.timezone,
      // Templates read contact fields and tags as traits, as the runtime's profile does.
      traits: { ...r.traits, ...(r.email ? { email: r.email } : {}), ...(r.phone ? { phone: r.phone } : {}), tags: r.tags },
      consent: r.consent,
      suppressions,
      reachable: { push: r.tokens > 0, sms: Boolean(r.phone), email: Boolean(r.email) },
    };
  });
  const found = new Set(users.map((u) => u.id));
  return { users, missing: "ids" in pick ? pick.ids.filter((id) => !found.has(id)) : [] };
}
