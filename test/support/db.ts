import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { migrate, migrationsFolder, openDatabase, type Database } from "../../db/client";

export interface TestDb extends Database {
  /** Drops the throwaway database (PostgreSQL) or closes the in-memory one (PGlite). */
  drop(): Promise<void>;
  /** Connection string of the throwaway database, for child processes; undefined on PGlite. */
  url?: string;
}

/** Which database the suite runs on, as printed at the start of `npm test`. */
export function testDatabaseKind(): "postgres" | "pglite" {
  return process.env.DATABASE_URL ? "postgres" : "pglite";
}

/**
 * A fresh, migrated database per call. On PostgreSQL (DATABASE_URL set) it creates a uniquely
 * named database on that server so test files and parallel runs never see each other's rows;
 * otherwise an in-memory PGlite.
 *
 * Migrating took most of the time of many test files (decision 1200): a migrated database is a
 * copy of a template migrated once per set of migrations. On PostgreSQL the template is a
 * database (`CREATE DATABASE … TEMPLATE`), on PGlite a data directory tarball cached on disk.
 * Both are keyed by a digest of every file in db/migrations, so a new or changed migration gets
 * a new template, built by the real `migrate()`. `migrate: false` gives an empty database, for
 * tests of the migrations themselves.
 */
export async function createTestDb(options: { migrate?: boolean } = {}): Promise<TestDb> {
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) return createPgliteTestDb(options);
  const name = `waypost_test_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  if (options.migrate === false) await adminDo(baseUrl, (admin) => createDatabase(admin, name, null));
  else {
    try {
      await adminDo(baseUrl, async (admin) => createDatabase(admin, name, await postgresTemplate(baseUrl)));
    } catch (error) {
      // 3D000: the template is gone (another checkout with other migrations dropped it an hour
      // after it was built): build it again, once.
      if ((error as { code?: string }).code !== "3D000") throw error;
      templateBuilt = undefined;
      await adminDo(baseUrl, async (admin) => createDatabase(admin, name, await postgresTemplate(baseUrl)));
    }
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), maxConnections: 5 });
  return {
    ...database,
    url: url.toString(),
    drop: async () => {
      await database.close();
      await adminDo(baseUrl, (admin) => admin.unsafe(`drop database if exists "${name}" with (force)`));
    },
  };
}

/** An in-memory PGlite whatever DATABASE_URL says (tests of the embedded default), from the cached template. */
export async function createPgliteTestDb(options: { migrate?: boolean } = {}): Promise<TestDb> {
  const database = await openDatabase({ dataDir: "memory://", loadDataDir: await pgliteTemplate(options.migrate !== false) });
  return { ...database, drop: () => database.close() };
}

// ---- the template's key --------------------------------------------------------------------

let digest: string | undefined;

/** sha256 over the path and bytes of every file under db/migrations (SQL and drizzle's journal). */
export function migrationsDigest(): string {
  if (digest) return digest;
  const hash = createHash("sha256");
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else hash.update(`${relative(migrationsFolder, path)}\0`).update(readFileSync(path)).update("\0");
    }
  };
  walk(migrationsFolder);
  return (digest = hash.digest("hex").slice(0, 16));
}

// ---- PostgreSQL: a template database -------------------------------------------------------

const TEMPLATE_PREFIX = "waypost_template_";
/** Serialises template builds and clean-up across processes and checkouts on one server. */
const TEMPLATE_LOCK = 7316002;
/** Templates of other migrations are dropped once this old: a run still using one has long finished its clones. */
const STALE_TEMPLATE_MS = 60 * 60_000;
let templateBuilt: Promise<string> | undefined;

async function adminDo<T>(baseUrl: string, work: (admin: postgres.Sql) => Promise<T>): Promise<T> {
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  try {
    return await work(admin);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

async function createDatabase(admin: postgres.Sql, name: string, template: string | null): Promise<void> {
  if (!template) {
    await admin.unsafe(`create database "${name}"`);
    return;
  }
  // A session still connected to the template blocks the copy (55006, e.g. an autovacuum worker
  // the server has not ended yet): try again shortly.
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.unsafe(`create database "${name}" template "${template}"`);
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== "55006" || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** The migrated template of the current migrations on this server, built once (by whichever process comes first). */
function postgresTemplate(baseUrl: string): Promise<string> {
  templateBuilt ??= buildPostgresTemplate(baseUrl).catch((error) => {
    templateBuilt = undefined;
    throw error;
  });
  return templateBuilt;
}

async function buildPostgresTemplate(baseUrl: string): Promise<string> {
  const name = `${TEMPLATE_PREFIX}${migrationsDigest()}`;
  return adminDo(baseUrl, async (admin) => {
    const exists = async () => (await admin`select 1 from pg_database where datname = ${name}`).length > 0;
    if (await exists()) return name;
    await admin`select pg_advisory_lock(${TEMPLATE_LOCK})`;
    try {
      if (await exists()) return name;
      // Leftovers: a build that died half-way, and templates of migrations nobody has used for an hour.
      const others = await admin<{ datname: string; description: string | null }[]>`
        select datname, shobj_description(oid, 'pg_database') as description from pg_database
        where datname like ${`${TEMPLATE_PREFIX}%`} and datname <> ${name}`;
      for (const other of others) {
        const builtAt = Date.parse(other.description ?? "");
        if (other.datname.includes("_building_") || !(builtAt > Date.now() - STALE_TEMPLATE_MS)) {
          await admin.unsafe(`alter database "${other.datname}" with is_template false`).catch(() => {});
          await admin.unsafe(`drop database if exists "${other.datname}" with (force)`).catch(() => {});
        }
      }
      // Built under another name and renamed when complete: no process ever copies half a template.
      const building = `${TEMPLATE_PREFIX}building_${randomBytes(4).toString("hex")}`;
      await admin.unsafe(`create database "${building}"`);
      const url = new URL(baseUrl);
      url.pathname = `/${building}`;
      const database = await openDatabase({ url: url.toString(), maxConnections: 1 });
      try {
        await migrate(database);
      } finally {
        await database.close();
      }
      await admin.unsafe(`alter database "${building}" rename to "${name}"`);
      // Nobody connects to it (a connected session would block every copy); it only gets copied.
      await admin.unsafe(`alter database "${name}" with is_template true allow_connections false`);
      await admin.unsafe(`comment on database "${name}" is '${new Date().toISOString()}'`);
      return name;
    } finally {
      await admin`select pg_advisory_unlock(${TEMPLATE_LOCK})`;
    }
  });
}

// ---- PGlite: a cached data directory -------------------------------------------------------

const cacheDir = fileURLToPath(new URL("../../node_modules/.cache/waypost-tests/", import.meta.url));
const pgliteTemplates = new Map<boolean, Promise<Blob>>();

function pgliteVersion(): string {
  const manifest = fileURLToPath(new URL("../../node_modules/@electric-sql/pglite/package.json", import.meta.url));
  return (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
}

/**
 * PGlite's data directory after initdb (and, when `migrated`, after `migrate()`), as the tarball
 * `dumpDataDir` makes: from disk when an earlier process made it for the same PGlite version and
 * migrations, otherwise made now and written for the next one (atomically, by rename).
 */
export function pgliteTemplate(migrated: boolean): Promise<Blob> {
  let template = pgliteTemplates.get(migrated);
  if (!template) {
    template = loadOrBuildPgliteTemplate(migrated).catch((error) => {
      pgliteTemplates.delete(migrated);
      throw error;
    });
    pgliteTemplates.set(migrated, template);
  }
  return template;
}

async function loadOrBuildPgliteTemplate(migrated: boolean): Promise<Blob> {
  const file = join(cacheDir, `pglite-${pgliteVersion()}-${migrated ? migrationsDigest() : "empty"}.tar.gz`);
  try {
    return new Blob([readFileSync(file)]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const database = await openDatabase({ dataDir: "memory://" });
  try {
    if (migrated) await migrate(database);
    const client = (database.db as unknown as { $client: PGlite }).$client;
    const dump = await client.dumpDataDir("gzip");
    const bytes = Buffer.from(await dump.arrayBuffer());
    mkdirSync(cacheDir, { recursive: true });
    const partial = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
    writeFileSync(partial, bytes);
    renameSync(partial, file);
    return new Blob([bytes]);
  } finally {
    await database.close();
  }
}
