import { countOperators, createOperator, ensureDefaultWorkspace } from "../app/lib/accounts.server";
import type { AppServices } from "../app/services.server";
import { hasDemoUsers, seedDemoUsers } from "../db/seed/demo-users";
import { eq, sql } from "drizzle-orm";
import { createJourney, publishJourney } from "../app/lib/journeys.server";
import { journeys } from "../db/schema";
import { seedDemoSegments } from "../app/segments/store.server";
import { demoJourneys } from "../workflows/demo-journeys";
import { replayDemoHistory, type DemoHistoryResult } from "../db/seed/demo-history.server";

export const DEFAULT_ADMIN_EMAIL = "admin@waypost.local";

export interface FirstStartResult {
  workspaceId: string;
  /** Present only on the very first start: the generated admin login, to print once. */
  admin?: { email: string; password: string };
}

/** On an empty database: the default workspace and an admin with a generated password. */
export async function ensureFirstStart(services: AppServices): Promise<FirstStartResult> {
  const workspace = await ensureDefaultWorkspace(services.db);
  if ((await countOperators(services.db)) > 0) return { workspaceId: workspace.id };
  const admin = await createOperator(services.db, { workspaceId: workspace.id, email: DEFAULT_ADMIN_EMAIL, name: "Admin", role: "admin" });
  return { workspaceId: workspace.id, admin: { email: admin.email, password: admin.password } };
}

export interface SeedDemoOptions {
  /**
   * Days of history the demo journeys get on first seeding (db/seed/demo-history.server.ts):
   * default WAYPOST_DEMO_HISTORY_DAYS (30); 0 skips it (tests that only need the users and journeys). Not replayed on the
   * Temporal engine: users still inside at the end continue on the embedded engine's tables.
   */
  historyDays?: number;
  /** Progress lines for the operator (the CLI prints them). Default: console.log. */
  say?: (line: string) => void;
}

export interface SeedDemoResult {
  users: number;
  events: number;
  journeys: number;
  history?: DemoHistoryResult;
}

/**
 * Demo users and events, the four demo journeys (published) and, on the embedded engine, the
 * last 30 days of those journeys replayed — only if the demo users are not there yet, so a
 * restart never replays again.
 */
export async function seedDemo(services: AppServices, workspaceId: string, userCount: number, options: SeedDemoOptions = {}): Promise<SeedDemoResult | null> {
  const say = options.say ?? ((line: string) => console.log(line));
  if (await hasDemoUsers(services.db, workspaceId)) {
    await seedDemoSegments(services, workspaceId);
    // A workspace seeded before the demo journeys existed still gets them, once.
    const journeys = (await countJourneys(services, workspaceId)) === 0 ? await seedDemoJourneys(services, workspaceId) : 0;
    return journeys > 0 ? { users: 0, events: 0, journeys } : null;
  }
  const now = services.now();
  const seeded = await seedDemoUsers(services.db, workspaceId, userCount, now);
  const journeys = await seedDemoJourneys(services, workspaceId);
  const days = options.historyDays ?? services.config.WAYPOST_DEMO_HISTORY_DAYS ?? 30;
  let history: DemoHistoryResult | undefined;
  if (days > 0 && userCount > 0 && services.engine?.kind === "temporal") {
    say("demo history skipped: it is replayed on the embedded engine only (WAYPOST_ENGINE=temporal)");
  } else if (days > 0 && userCount > 0 && services.config.WAYPOST_RUN_WORKER === false) {
    // Separate `waypost worker` processes would take the replay's due timers and run them now.
    say("demo history skipped: the journey worker runs in other processes (WAYPOST_RUN_WORKER=false)");
  } else if (days > 0 && userCount > 0) {
    say(`replaying ${days} days of demo history… (the demo users through the demo journeys, once)`);
    history = await replayDemoHistory(services, workspaceId, { days, now: now.getTime() });
    say(
      `demo history replayed in ${(history.elapsedMs / 1000).toFixed(1)} s: ${history.entries} journey entries, ` +
        `${history.messagesSent} messages sent, ${history.ordersAdded} orders, ${history.steps} engine steps`,
    );
  }
  // Lifecycle, RFM and `churned_buyers` (the win-back journey's entry) segments, computed after
  // the history so that membership reflects its orders; creating a segment enters nobody.
  await seedDemoSegments(services, workspaceId);
  return { users: seeded.users, events: seeded.events + (history?.eventsAdded ?? 0), journeys, ...(history ? { history } : {}) };
}

/**
 * Creates and publishes the journeys of PRODUCT.md through the journey store, skipping any whose
 * name is already taken (so running it again adds nothing). Returns how many were created.
 */
export async function seedDemoJourneys(services: AppServices, workspaceId: string): Promise<number> {
  const existing = new Set((await services.db.select({ name: journeys.name }).from(journeys).where(eq(journeys.workspaceId, workspaceId))).map((j) => j.name));
  let created = 0;
  // Created last to first: the journey list (newest first) then reads in PRODUCT.md order.
  for (const document of demoJourneys().reverse()) {
    if (existing.has(document.name)) continue;
    const journey = await createJourney(services.db, { workspaceId }, { name: document.name, document });
    const published = await publishJourney(services.db, { workspaceId }, { journeyId: journey.id });
    if (!published.ok) throw new Error(`demo journey "${document.name}" does not compile: ${published.errors.map((e) => e.message.en).join("; ")}`);
    created += 1;
  }
  return created;
}

async function countJourneys(services: AppServices, workspaceId: string): Promise<number> {
  const [row] = await services.db.select({ n: sql<number>`count(*)::int` }).from(journeys).where(eq(journeys.workspaceId, workspaceId));
  return row.n;
}

export function loginBanner(url: string, admin: { email: string; password: string }): string {
  const lines = [
    "Waypost is ready. Sign in with this admin login (shown once; the first sign-in asks you to choose your own password):",
    `  URL:      ${url}/login`,
    `  Email:    ${admin.email}`,
    `  Password: ${admin.password}`,
  ];
  const width = Math.max(...lines.map((l) => l.length)) + 2;
  const bar = "=".repeat(width);
  return [bar, ...lines, bar].join("\n");
}
