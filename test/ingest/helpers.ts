import { sql } from "drizzle-orm";
import { query } from "../../db/client";
import { handleIngest, type IngestEndpoint } from "../../app/ingest/http.server";
import { createApiKey } from "../../app/lib/auth.server";
import type { TestApp } from "../support/app";

export function basic(key: string): string {
  return `Basic ${Buffer.from(`${key}:`).toString("base64")}`;
}

export async function writeKey(app: TestApp, name = "test"): Promise<string> {
  return (await createApiKey(app.services.db, { workspaceId: app.workspaceId, kind: "write", name })).key;
}

export interface Sent {
  status: number;
  body: Record<string, unknown> & {
    success?: boolean;
    error?: { code: string; message: string; field?: string };
    errors?: { index?: number; field: string; code: string; message: string }[];
    results?: { index: number; messageId?: string; status: string; errors?: { field: string; code: string; message: string }[] }[];
  };
  headers: Headers;
}

/** Calls the ingestion handler in-process (the HTTP route is a one-line wrapper, tested separately). */
export async function send(app: TestApp, endpoint: IngestEndpoint, body: unknown, options: { key?: string | null; headers?: Record<string, string>; raw?: string | Uint8Array; method?: string } = {}): Promise<Sent> {
  const headers: Record<string, string> = { "content-type": "application/json", ...(options.headers ?? {}) };
  if (options.key) headers.authorization = basic(options.key);
  const request = new Request(`http://test/api/v1/${endpoint}`, {
    method: options.method ?? "POST",
    headers,
    ...(options.method && options.method !== "POST" ? {} : { body: options.raw ?? JSON.stringify(body) }),
  });
  const response = await handleIngest(request, app.services, endpoint);
  return { status: response.status, body: (await response.json()) as Sent["body"], headers: response.headers };
}

export async function countEvents(app: TestApp): Promise<number> {
  const [row] = await query<{ n: number | string }>(app.services.db, sql`select count(*) as n from events`);
  return Number(row.n);
}

export async function eventsByMessageId(app: TestApp, messageIds: string[]): Promise<number> {
  if (messageIds.length === 0) return 0;
  const [row] = await query<{ n: number | string }>(
    app.services.db,
    sql`select count(*) as n from events where message_id in (select jsonb_array_elements_text(${JSON.stringify(messageIds)}::jsonb))`,
  );
  return Number(row.n);
}

export async function userRow(app: TestApp, id: string) {
  const [row] = await query<{
    id: string;
    anonymous_id: string | null;
    traits: Record<string, unknown>;
    email: string | null;
    phone: string | null;
    timezone: string | null;
    tags: string[];
    consent: Record<string, unknown>;
    first_seen_at: Date | string;
    last_seen_at: Date | string;
  }>(app.services.db, sql`select * from users where workspace_id = ${app.workspaceId}::uuid and id = ${id}`);
  return row;
}
