import { Readable } from "node:stream";
import { parse, type CsvError, type Info } from "csv-parse";
import { eq, sql } from "drizzle-orm";
import { query, type Tx } from "../../db/client";
import { userImports, type Consent, type ImportRowError } from "../../db/schema";
import { retryingTransaction } from "../ingest/store.server";
import { parseTimestamp } from "../ingest/payloads";
import { loadLiveSegments, recomputeSegment } from "../segments/membership.server";
import type { AppServices } from "../services.server";

/**
 * CSV import of users and tags (Users page upload and `waypost import-users`). The first row
 * names the columns:
 *
 *   user_id (required; also `userId` or `id`), email, phone, timezone, tags (separated by | ; or ,),
 *   created_at / last_seen_at (ISO dates), consent.<push|sms|email>.<marketing|transactional>,
 *   device_token, and any other column as a trait (`address.city` nests). A `:number`,
 *   `:boolean`, `:date`, `:list` or `:string` suffix fixes a trait's type; without one,
 *   true/false become booleans and plain decimals numbers (so "00123" and "+86138..." stay text).
 *
 * A bad row is reported with its line number and column and nothing of it is imported; good rows
 * are imported in chunks (one transaction each), with progress stored on the import row.
 */

const MAX_REPORTED_ERRORS = 1000;
const CHUNK = 1000;

type ColumnType = "string" | "number" | "boolean" | "date" | "list" | "auto";

type Column =
  | { name: string; kind: "user_id" | "email" | "phone" | "timezone" | "tags" | "created_at" | "last_seen_at" | "device_token" | "ignore" }
  | { name: string; kind: "consent"; channel: "push" | "sms" | "email"; category: "marketing" | "transactional" }
  | { name: string; kind: "trait"; path: string[]; type: ColumnType };

interface ImportRow {
  id: string;
  traits: Record<string, unknown>;
  email?: string;
  phone?: string;
  tz?: string;
  tags?: string[];
  consent?: Consent;
  fs?: string;
  ls?: string;
  token?: string;
}

export interface ImportResult {
  importId: string;
  processed: number;
  imported: number;
  failed: number;
  errors: ImportRowError[];
  message?: string;
}

export interface ImportOptions {
  filename: string;
  operatorId?: string | null;
  /** `add` (default) keeps existing tags and adds the file's; `replace` sets exactly the file's. */
  tagsMode?: "add" | "replace";
  /** An import row created beforehand (the UI starts the import, then polls). */
  importId?: string;
  onProgress?: (progress: { processed: number; imported: number; failed: number; total: number }) => void;
}

class HeaderError extends Error {}

function parseHeader(header: string[]): Column[] {
  const seen = new Set<string>();
  return header.map((raw) => {
    const cell = raw.trim();
    const [keyPart, typeName] = cell.split(":") as [string, string | undefined];
    const key = keyPart.trim();
    // Errors name the column as the file spells it ("age:number").
    const name = cell;
    if (!key) throw new HeaderError("a column has no name");
    if (seen.has(key)) throw new HeaderError(`column "${key}" appears twice`);
    seen.add(key);
    const lower = key.toLowerCase();
    if (["user_id", "userid", "id"].includes(lower)) return { name, kind: "user_id" };
    if (["email", "phone", "timezone", "tags", "created_at", "last_seen_at", "device_token"].includes(lower)) {
      return { name, kind: lower as "email" };
    }
    if (lower === "createdat") return { name, kind: "created_at" };
    if (lower.startsWith("consent.")) {
      const [, channel, category] = lower.split(".");
      if (!["push", "sms", "email"].includes(channel) || !["marketing", "transactional"].includes(category)) {
        throw new HeaderError(`column "${key}": consent columns are consent.<push|sms|email>.<marketing|transactional>`);
      }
      return { name, kind: "consent", channel: channel as "push", category: category as "marketing" };
    }
    const type = (typeName?.trim().toLowerCase() ?? "auto") as ColumnType;
    if (!["string", "number", "boolean", "date", "list", "auto"].includes(type)) {
      throw new HeaderError(`column "${cell}": the type must be string, number, boolean, date or list`);
    }
    const path = key.split(".").map((p) => p.trim());
    if (path.some((p) => !p)) throw new HeaderError(`column "${key}" has an empty part in its name`);
    return { name, kind: "trait", path, type };
  });
}

const TRUE = new Set(["true", "yes", "y", "1", "是"]);
const FALSE = new Set(["false", "no", "n", "0", "否"]);

function parseBoolean(value: string): boolean | null {
  const v = value.trim().toLowerCase();
  return TRUE.has(v) ? true : FALSE.has(v) ? false : null;
}

function splitList(value: string): string[] {
  return [...new Set(value.split(/[|;,，；]/).map((t) => t.trim()).filter(Boolean))];
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown) {
  let node = target;
  for (const part of path.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}

const isWellFormed = (s: string) => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

type CellResult = { ok: true } | { ok: false; message: string };

/** Applies one cell to the row; returns why the cell is bad. */
function applyCell(row: ImportRow, column: Column, raw: string): CellResult {
  if (raw.includes("\u0000") || !isWellFormed(raw)) return { ok: false, message: "contains characters that cannot be stored (NUL or a lone surrogate)" };
  const value = raw.trim();
  if (column.kind === "user_id") {
    if (!value) return { ok: false, message: "is required" };
    if (value.length > 255) return { ok: false, message: "is longer than 255 characters" };
    row.id = value;
    return { ok: true };
  }
  if (!value) return { ok: true };
  switch (column.kind) {
    case "email":
      if (value.length > 320 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) return { ok: false, message: `"${value}" is not an email address` };
      row.email = value;
      row.traits.email = value;
      return { ok: true };
    case "phone": {
      if (!/^\+?[0-9][0-9 ()-]{4,30}$/.test(value)) return { ok: false, message: `"${value}" is not a phone number` };
      row.phone = value;
      row.traits.phone = value;
      return { ok: true };
    }
    case "timezone":
      if (value.length > 64) return { ok: false, message: "is longer than 64 characters" };
      row.tz = value;
      row.traits.timezone = value;
      return { ok: true };
    case "tags": {
      const tags = splitList(value);
      if (tags.some((t) => t.length > 100)) return { ok: false, message: "a tag is longer than 100 characters" };
      row.tags = tags;
      return { ok: true };
    }
    case "created_at":
    case "last_seen_at": {
      const ms = parseTimestamp(value);
      if (ms === null) return { ok: false, message: `"${value}" is not an ISO-8601 date (2026-01-31 or 2026-01-31T09:30:00+08:00)` };
      if (column.kind === "created_at") {
        row.fs = new Date(ms).toISOString();
        row.traits.createdAt = value;
      } else row.ls = new Date(ms).toISOString();
      return { ok: true };
    }
    case "device_token":
      if (value.length > 4096) return { ok: false, message: "is longer than 4096 characters" };
      row.token = value;
      return { ok: true };
    case "consent": {
      const flag = parseBoolean(value);
      if (flag === null) return { ok: false, message: `"${value}" is not true/false (yes/no, 1/0, 是/否)` };
      row.consent = { ...(row.consent ?? {}), [column.channel]: { ...(row.consent?.[column.channel] ?? {}), [column.category]: flag } };
      return { ok: true };
    }
    case "ignore":
      return { ok: true };
    case "trait": {
      let parsed: unknown = value;
      switch (column.type) {
        case "number": {
          const n = Number(value);
          if (!Number.isFinite(n)) return { ok: false, message: `"${value}" is not a number` };
          parsed = n;
          break;
        }
        case "boolean": {
          const b = parseBoolean(value);
          if (b === null) return { ok: false, message: `"${value}" is not true/false` };
          parsed = b;
          break;
        }
        case "date":
          if (parseTimestamp(value) === null) return { ok: false, message: `"${value}" is not an ISO-8601 date` };
          break;
        case "list":
          parsed = splitList(value);
          break;
        case "auto":
          if (value === "true" || value === "false") parsed = value === "true";
          else if (/^-?(0|[1-9][0-9]{0,14})(\.[0-9]+)?$/.test(value)) parsed = Number(value);
          break;
        case "string":
          break;
      }
      setPath(row.traits, column.path, parsed);
      return { ok: true };
    }
  }
}

async function upsertImported(tx: Tx, workspaceId: string, rows: ImportRow[], tagsMode: "add" | "replace", now: Date) {
  const json = JSON.stringify(rows.map((r) => ({ ...r, tags: r.tags ?? null, consent: r.consent ?? null })));
  const input = sql`(select * from jsonb_to_recordset(${json}::jsonb)
    as r(id text, traits jsonb, email text, phone text, tz text, tags text[], consent jsonb, fs timestamptz, ls timestamptz) order by id)`;
  const at = sql`${now.toISOString()}::timestamptz`;
  // New users first (ON CONFLICT DO NOTHING is safe against ingestion creating them at the same
  // time), then one UPDATE that merges the file into every row; for the rows just inserted it
  // changes nothing.
  await tx.execute(sql`
    insert into users (workspace_id, id, first_seen_at, last_seen_at, updated_at)
    select ${workspaceId}::uuid, r.id, coalesce(r.fs, ${at}), coalesce(r.ls, r.fs, ${at}), ${at} from ${input} r
    on conflict (workspace_id, id) do nothing`);
  const merged = tagsMode === "add" ? sql`array(select distinct t from unnest(u.tags || r.tags) as t order by t)` : sql`r.tags`;
  await tx.execute(sql`
    update users u set
      traits = u.traits || r.traits || case when r.tags is null then '{}'::jsonb else jsonb_build_object('tags', to_jsonb(${merged})) end,
      email = coalesce(r.email, u.email),
      phone = coalesce(r.phone, u.phone),
      timezone = coalesce(r.tz, u.timezone),
      tags = case when r.tags is null then u.tags else ${merged} end,
      consent = case when r.consent is null then u.consent else waypost_merge_consent(u.consent, r.consent) end,
      first_seen_at = least(u.first_seen_at, coalesce(r.fs, u.first_seen_at)),
      last_seen_at = greatest(u.last_seen_at, r.ls),
      updated_at = ${at}
    from ${input} r
    where u.workspace_id = ${workspaceId}::uuid and u.id = r.id`);
  const tokens = rows.filter((r) => r.token).map((r) => ({ t: r.token!, u: r.id }));
  if (tokens.length) {
    await tx.execute(sql`
      insert into device_tokens as d (workspace_id, token, user_id)
      select ${workspaceId}::uuid, t.t, t.u from jsonb_to_recordset(${JSON.stringify(tokens)}::jsonb) as t(t text, u text)
      on conflict (workspace_id, token) do update set user_id = excluded.user_id where d.user_id <> excluded.user_id`);
  }
}

/** Rough number of data rows, for a progress bar (quoted multi-line cells make it an estimate). */
function estimateRows(content: string): number {
  let lines = 0;
  for (let i = content.indexOf("\n"); i !== -1; i = content.indexOf("\n", i + 1)) lines++;
  if (content.length > 0 && !content.endsWith("\n")) lines++;
  return Math.max(0, lines - 1);
}

export async function startImport(services: AppServices, workspaceId: string, filename: string, operatorId?: string | null): Promise<string> {
  const [row] = await services.db
    .insert(userImports)
    .values({ workspaceId, filename: filename.slice(0, 200), createdBy: operatorId ?? null })
    .returning({ id: userImports.id });
  return row.id;
}

export async function importUsersCsv(services: AppServices, workspaceId: string, content: string, options: ImportOptions): Promise<ImportResult> {
  const importId = options.importId ?? (await startImport(services, workspaceId, options.filename, options.operatorId));
  const total = estimateRows(content);
  const errors: ImportRowError[] = [];
  let processed = 0;
  let imported = 0;
  let failed = 0;
  let chunk = new Map<string, ImportRow>();
  const traitKeys = new Set<string>();
  const tagsMode = options.tagsMode ?? "add";

  /** One failed row, with every problem found in it (the operator fixes them all in one pass). */
  const report = (...problems: ImportRowError[]) => {
    failed++;
    for (const problem of problems) if (errors.length < MAX_REPORTED_ERRORS) errors.push(problem);
  };
  const save = async (status: "running" | "done" | "failed", message?: string) => {
    await services.db
      .update(userImports)
      .set({
        status,
        totalRows: status === "running" ? total : processed,
        processedRows: processed,
        importedRows: imported,
        failedRows: failed,
        errors,
        ...(message ? { message } : {}),
        ...(status !== "running" ? { finishedAt: services.now() } : {}),
      })
      .where(eq(userImports.id, importId));
    options.onProgress?.({ processed, imported, failed, total: status === "running" ? total : processed });
  };
  const flush = async () => {
    if (chunk.size === 0) return;
    const rows = [...chunk.values()];
    chunk = new Map();
    await retryingTransaction(services.db, (tx) => upsertImported(tx, workspaceId, rows, tagsMode, services.now()));
    imported += rows.length;
    await save("running");
  };

  // A record that cannot be parsed starts on the line after the last good one (tracked while
  // parsing: the parser runs ahead of the loop below).
  let lastLine = 0;
  const parser = Readable.from([content]).pipe(
    parse({
      bom: true,
      info: true,
      relax_column_count: true,
      // A stray quote inside a cell is read literally, as spreadsheets write them.
      relax_quotes: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
      on_record: (record: string[], context: { lines: number }) => {
        lastLine = context.lines;
        return record;
      },
    }),
  );
  parser.on("skip", (error: CsvError) => {
    processed++;
    report({ line: lastLine + 1, column: null, message: `cannot be read as CSV: ${error.message}` });
  });

  let columns: Column[] | null = null;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: Info }>) {
      if (!columns) {
        columns = parseHeader(record);
        if (!columns.some((c) => c.kind === "user_id")) throw new HeaderError('the first row must name a "user_id" column');
        for (const c of columns) traitKeys.add(c.kind === "trait" ? c.path[0] : c.kind === "consent" ? "consent" : c.kind);
        continue;
      }
      processed++;
      if (record.length !== columns.length) {
        report({ line: info.lines, column: null, message: `has ${record.length} cells; the header has ${columns.length}` });
        continue;
      }
      const row: ImportRow = { id: "", traits: {} };
      const problems: ImportRowError[] = [];
      for (let i = 0; i < columns.length; i++) {
        const result = applyCell(row, columns[i], record[i]);
        if (!result.ok) problems.push({ line: info.lines, column: columns[i].name, message: result.message });
      }
      if (problems.length > 0) {
        report(...problems);
        continue;
      }
      // The same user twice in a file: later cells win, like two identify calls.
      const previous = chunk.get(row.id);
      chunk.set(row.id, previous ? { ...previous, ...row, traits: { ...previous.traits, ...row.traits } } : row);
      if (chunk.size >= CHUNK) await flush();
    }
    if (!columns) throw new HeaderError("the file is empty");
    await flush();
  } catch (error) {
    const message = error instanceof HeaderError ? `The file cannot be imported: ${error.message}.` : `The import stopped: ${error instanceof Error ? error.message : String(error)}`;
    await save("failed", message);
    if (!(error instanceof HeaderError)) services.log.error("user import failed", { importId, error: message });
    return { importId, processed, imported, failed, errors, message };
  }

  // Trait and activity segments may have changed for many users: recompute them set-based.
  const segments = await loadLiveSegments(services.db, sql`workspace_id = ${workspaceId}::uuid`);
  for (const segment of segments) {
    const deps = segment.dependencies;
    if (deps.activity || deps.traits.some((t) => traitKeys.has(t) || (t === "tags" && traitKeys.has("tags")))) {
      await recomputeSegment(services, segment);
    }
  }
  errors.sort((a, b) => a.line - b.line);
  await save("done");
  return { importId, processed, imported, failed, errors };
}

export async function getImport(services: AppServices, workspaceId: string, importId: string) {
  const [row] = await query<{
    id: string;
    filename: string;
    status: string;
    total_rows: number | null;
    processed_rows: number;
    imported_rows: number;
    failed_rows: number;
    errors: ImportRowError[];
    message: string | null;
    created_at: Date | string;
    finished_at: Date | string | null;
  }>(services.db, sql`select * from user_imports where id = ${importId}::uuid and workspace_id = ${workspaceId}::uuid`);
  if (!row) return null;
  return {
    id: row.id,
    filename: row.filename,
    status: row.status,
    totalRows: row.total_rows,
    processedRows: row.processed_rows,
    importedRows: row.imported_rows,
    failedRows: row.failed_rows,
    errors: row.errors,
    message: row.message,
    createdAt: new Date(row.created_at).toISOString(),
    finishedAt: row.finished_at ? new Date(row.finished_at).toISOString() : null,
  };
}
