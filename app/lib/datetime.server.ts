import { sql } from "drizzle-orm";
import { query, type Db } from "../../db/client";
import { DEFAULT_TIME_ZONE } from "./datetime";

/** The workspace's zone (workspaces.timezone), in which operator pages show every time. */
export async function workspaceTimeZone(db: Db, workspaceId: string): Promise<string> {
  const [row] = await query<{ timezone: string | null }>(db, sql`select timezone from workspaces where id = ${workspaceId}::uuid`);
  return row?.timezone || DEFAULT_TIME_ZONE;
}
