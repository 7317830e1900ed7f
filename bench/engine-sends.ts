/**
 * `npm run bench:engine-sends` — what the app's send path costs the engine (decision 1005). The
 * engine alone drains N users through "wait 1 minute → push → exit" (PostgreSQL from DATABASE_URL,
 * or PGlite with BENCH_PGLITE=1; virtual clock, 3 lanes), three ways in one run on fresh databases:
 *   (a) the engine's own sandbox sender (the baseline of bench:engine and bench:soak);
 *   (b) the app's action services (channels' messaging service), users without a device token:
 *       every message fails as missing_address (the soak's path);
 *   (c) the app's action services, every user with a token: sent, delivered, delivery report.
 * Prints users/s and the share of (a). Env: N (10,000 users), BENCH_ROUNDS (1), BENCH_MODES
 * (sandbox,app,app+tokens).
 */
import { sql } from "drizzle-orm";
import { loadConfig } from "../app/config.server";
import { ensureDefaultWorkspace } from "../app/lib/accounts.server";
import { createJourney, publishJourney } from "../app/lib/journeys.server";
import { createLogger } from "../app/lib/log.server";
import type { AppServices } from "../app/services.server";
import { engineActionServices } from "../cli/engine-services";
import { migrate, openDatabase, query, type Database } from "../db/client";
import { waitThenPushJourney } from "../workflows/testing";
import { createAppEngine } from "../workflows/embedded/app.server";
import { createEmbeddedEngine } from "../workflows/embedded/engine.server";
import { fmt, withDatabase } from "./winback";

const USERS = Number(process.env.N ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const PGLITE = process.env.BENCH_PGLITE === "1";
type Mode = "sandbox" | "app" | "app+tokens";

const journey = waitThenPushJourney("sends");

async function onFreshDatabase<T>(body: (database: Database, url: string) => Promise<T>): Promise<T> {
  if (!PGLITE) return withDatabase(body);
  const database = await openDatabase({ dataDir: "memory://" });
  try {
    await migrate(database);
    return await body(database, "");
  } finally {
    await database.close();
  }
}

async function drain(mode: Mode): Promise<{ seconds: number; completed: number; states: string }> {
  return onFreshDatabase(async (database, url) => {
    const workspace = await ensureDefaultWorkspace(database.db);
    const created = await createJourney(database.db, { workspaceId: workspace.id }, { name: "sends", document: journey });
    const published = await publishJourney(database.db, { workspaceId: workspace.id }, { journeyId: created.id });
    if (!published.ok) throw new Error(`journey does not compile: ${JSON.stringify(published.errors)}`);
    if (mode === "app+tokens") {
      await query(database.db, sql`insert into users (workspace_id, id) select ${workspace.id}::uuid, 'u' || g from generate_series(0, ${USERS - 1}) g`);
      await query(
        database.db,
        sql`insert into device_tokens (workspace_id, token, user_id, platform, last_seen_at)
            select ${workspace.id}::uuid, 'token-' || g, 'u' || g, 'android', now() from generate_series(0, ${USERS - 1}) g`,
      );
    }
    // Noon in the workspace's zone: marketing pushes are not held by quiet hours.
    let clock = Date.parse("2026-06-01T04:00:00Z");
    const now = () => new Date(clock);
    const log = createLogger("warn");
    const engine =
      mode === "sandbox"
        ? createEmbeddedEngine({ db: database.db, now, database }, { lanes: 3 })
        : createAppEngine(
            {
              db: database.db,
              now,
              log,
              database,
              actionServices: engineActionServices({ config: loadConfig({ ...process.env, DATABASE_URL: url, NODE_ENV: "production" }), database, db: database.db, log, now } as AppServices),
            },
            { lanes: 3 },
          );
    for (let i = 0; i < USERS; i += 500) {
      const events = Array.from({ length: Math.min(500, USERS - i) }, (_, k) => ({ workspaceId: workspace.id, userId: `u${i + k}`, messageId: `m${i + k}`, name: "signed_up", properties: {}, timestamp: clock }));
      await engine.handleEvents(events);
    }
    clock += 61_000;
    const started = performance.now();
    await engine.runUntilIdle({ lanes: 3 });
    const seconds = (performance.now() - started) / 1000;
    await engine.stop();
    const [done] = await query<{ n: number | string }>(database.db, sql`select count(*) as n from journey_instances where status = 'completed'`);
    const states = await query<{ state: string; n: number | string }>(database.db, sql`select state, count(*) as n from messages group by 1 order by 1`);
    return { seconds, completed: Number(done!.n), states: states.map((s) => `${s.state} ${fmt(Number(s.n))}`).join(", ") };
  });
}

console.log(`bench:engine-sends — ${fmt(USERS)} users, ${PGLITE ? "PGlite" : "PostgreSQL"}, ${ROUNDS} round(s)`);
for (let round = 1; round <= ROUNDS; round++) {
  let baseline = 0;
  for (const mode of (process.env.BENCH_MODES?.split(",") ?? ["sandbox", "app", "app+tokens"]) as Mode[]) {
    const r = await drain(mode);
    const rate = USERS / r.seconds;
    if (mode === "sandbox") baseline = rate;
    if (r.completed !== USERS) throw new Error(`${mode}: ${r.completed} of ${USERS} users completed`);
    console.log(
      `  ${mode.padEnd(11)} ${r.seconds.toFixed(1).padStart(6)} s  ${fmt(rate).padStart(6)} users/s  ${`${Math.round((100 * rate) / baseline)}%`.padStart(5)} of the sandbox sender  (messages: ${r.states})`,
    );
  }
}
process.exit(0);
