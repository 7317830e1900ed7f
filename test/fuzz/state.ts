import { sql } from "drizzle-orm";
import { query, type Db } from "../../db/client";

/**
 * A fingerprint of everything stored: per table, its row count and an md5 of its rows. Taken
 * before and after a rejected request, it proves the request stored nothing. Columns that change
 * on every authenticated request whatever its outcome (when a key or a session was last used)
 * are left out, and say why.
 */
const VOLATILE: Record<string, string[]> = {
  // Touched when the key authenticates, before the input is read.
  api_keys: ["last_used_at"],
  // Touched when the session is read, before the input is read.
  sessions: ["last_seen_at", "last_used_at", "expires_at"],
};

/**
 * Tables left out: they record refused attempts on purpose, as a record of the attempt, not the
 * attempted change. The audit log (an erasure request for an unknown user, a failed login) and
 * login throttling (a wrong current password counts towards the lock).
 */
const IGNORED = new Set(["audit_log", "login_throttles"]);

export type Fingerprint = Map<string, string>;

const statements = new WeakMap<Db, ReturnType<typeof sql.raw>>();

async function buildStatement(db: Db) {
  const tables = await query<{ name: string }>(
    db,
    sql`select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' and table_name not like '%drizzle%' order by 1`,
  );
  const parts = tables.filter(({ name }) => !IGNORED.has(name)).map(({ name }) => {
    const drop = (VOLATILE[name] ?? []).map((c) => ` - '${c}'`).join("");
    return `select '${name}' as t, count(*)::text || ':' || coalesce(md5(string_agg((to_jsonb(x)${drop})::text, '|' order by (to_jsonb(x)${drop})::text)), '') as f from "${name}" x`;
  });
  return sql.raw(parts.join(" union all "));
}

export async function fingerprint(db: Db): Promise<Fingerprint> {
  let statement = statements.get(db);
  if (!statement) statements.set(db, (statement = await buildStatement(db)));
  const rows = await query<{ t: string; f: string }>(db, statement);
  return new Map(rows.map((r) => [r.t, r.f]));
}

/** Names of the tables whose fingerprint differs. */
export function changed(a: Fingerprint, b: Fingerprint): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].filter((t) => a.get(t) !== b.get(t));
}

/** Waits until background work started by an accepted request (segment signals, imports) has settled. */
export async function settled(db: Db, tries = 40): Promise<Fingerprint> {
  let last = await fingerprint(db);
  for (let i = 0; i < tries; i++) {
    await new Promise((r) => setTimeout(r, 15));
    const next = await fingerprint(db);
    if (changed(last, next).length === 0) return next;
    last = next;
  }
  return last;
}
