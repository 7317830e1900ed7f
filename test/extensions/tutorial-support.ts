import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { sql } from "drizzle-orm";
import { expect } from "vitest";
import { loadConfig } from "../../app/config.server";
import { ensureDefaultWorkspace } from "../../app/lib/accounts.server";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import { saveExtensionSecret } from "../../app/extensions/settings.server";
import type { AppServices } from "../../app/services.server";
import { createServices } from "../../cli/services";
import { query, type Database } from "../../db/client";
import { users } from "../../db/schema";
import { buildJourney } from "../../workflows/builder";

/**
 * docs/extensions.md, followed literally: its ```<lang> file=<name> code blocks are written into a
 * folder outside the repository, the doc's test is run with the doc's command, and the folder is
 * loaded through WAYPOST_EXTENSIONS by the app's own start-up (createServices), then used in a
 * journey on the engine the caller picks.
 */

const repo = new URL("../../", import.meta.url).pathname;

export function tutorialBlocks(): Record<string, string> {
  const doc = readFileSync(join(repo, "docs/extensions.md"), "utf8");
  const files: Record<string, string> = {};
  for (const match of doc.matchAll(/^```\w+ file=(\S+)\n([\s\S]*?)^```$/gm)) files[match[1]] = match[2];
  return files;
}

export function writeTutorial(): string {
  const dir = mkdtempSync(join(tmpdir(), "acme-coupons-"));
  for (const [name, text] of Object.entries(tutorialBlocks())) writeFileSync(join(dir, name), text);
  return dir;
}

/** The doc's step 3 command: `npx waypost extension test <dir>` (bin/waypost.mjs is what npx runs). */
export async function runTutorialTest(dir: string): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [join(repo, "bin/waypost.mjs"), "extension", "test", dir], { cwd: repo, env: { ...process.env, WAYPOST_LOG_LEVEL: "silent" } });
    return { code: 0, stdout };
  } catch (error) {
    const e = error as { code?: number; stdout?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? "" };
  }
}

/** The coupon service of the tutorial: the first `stock` requests get a coupon, then 409. */
export interface CouponService {
  url: string;
  requests: Array<{ authorization?: string; idempotencyKey?: string; body: { user: string; campaign: string; amount: number } }>;
  close(): Promise<void>;
}

export async function startCouponService(stock: number): Promise<CouponService> {
  const requests: CouponService["requests"] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      requests.push({ authorization: req.headers.authorization, idempotencyKey: req.headers["idempotency-key"] as string | undefined, body: JSON.parse(body) });
      res.writeHead(stock-- > 0 ? 200 : 409, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ code: `C-${requests.length}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/coupons`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The app as `waypost start` builds it, with the tutorial folder in WAYPOST_EXTENSIONS. */
export async function startWithTutorial(database: Database, dir: string, env: Record<string, string> = {}): Promise<AppServices> {
  const config = loadConfig({
    WAYPOST_LOG_LEVEL: "silent",
    WAYPOST_DEMO_DATA: "false",
    NODE_ENV: "test",
    WAYPOST_DATA_DIR: mkdtempSync(join(tmpdir(), "waypost-data-")),
    WAYPOST_EXTENSIONS: dir,
    // The coupon service runs on loopback, which the outbound guard refuses unless allowed.
    WAYPOST_OUTBOUND_ALLOW: "127.0.0.1",
    ...env,
  });
  return createServices(config, { database });
}

/** Step 4 and a journey: the operator's secret, a published journey, two users through it. */
export async function runCouponJourney(services: AppServices, service: CouponService, settle: () => Promise<void>): Promise<{ journeyId: string; instances: Map<string, string> }> {
  const workspace = await ensureDefaultWorkspace(services.db);
  await saveExtensionSecret(services, { workspaceId: workspace.id, operatorId: null, nodeType: "acme.coupon", name: "apiKey", value: "k-live", remove: false });

  const nodes = (couponConfig: unknown) => [
    { id: "trigger", type: "core.trigger", config: { source: "api" } },
    { id: "coupon", type: "acme.coupon", config: couponConfig },
    { id: "exit", type: "core.exit", config: {} },
  ];
  const edges: Array<[string, string, string]> = [
    ["trigger", "next", "coupon"],
    ["coupon", "issued", "exit"],
    ["coupon", "none_left", "exit"],
    ["coupon", "failed", "exit"],
  ];
  const settings = { entry: { rule: "concurrent" as const }, holdoutPercent: 0, exitEvents: [] };

  // The compiler checks the custom node like a built-in one.
  const unconfigured = await createJourney(services.db, { workspaceId: workspace.id }, { name: "coupon (unconfigured)", document: buildJourney({ name: "coupon (unconfigured)", settings, nodes: nodes({ serviceUrl: "", campaign: "" }), edges }) });
  const refused = await publishJourney(services.db, { workspaceId: workspace.id }, { journeyId: unconfigured.id });
  expect(refused.ok).toBe(false);
  expect(JSON.stringify(refused)).toMatch(/"nodeId":"coupon"/);

  const document = buildJourney({ name: "spring coupons", settings, nodes: nodes({ serviceUrl: service.url, campaign: "spring" }), edges });
  const journey = await createJourney(services.db, { workspaceId: workspace.id }, { name: document.name, document });
  const published = await publishJourney(services.db, { workspaceId: workspace.id }, { journeyId: journey.id });
  expect(published.ok).toBe(true);
  for (const userId of ["u-first", "u-second"]) {
    await services.db.insert(users).values({ workspaceId: workspace.id, id: userId, traits: { name: userId }, tags: [] }).onConflictDoNothing();
    expect(await services.engine!.triggerJourney({ workspaceId: workspace.id, journeyId: journey.id, userId })).toMatchObject({ entered: true });
    // One at a time, so the first user gets the one coupon in stock.
    await settle();
  }
  const rows = await query<{ id: string; user_id: string }>(services.db, sql`select id, user_id from journey_instances where journey_id = ${journey.id}::uuid`);
  return { journeyId: journey.id, instances: new Map(rows.map((r) => [r.user_id, r.id])) };
}

/** What the node's card and the user's timeline are made of: the same node events as built-ins. */
export async function couponNodeEvents(services: AppServices, journeyId: string): Promise<Array<{ user_id: string; kind: string; output: string | null }>> {
  return query(
    services.db,
    sql`select user_id, kind, output from journey_node_events where journey_id = ${journeyId}::uuid and node_id = 'coupon' order by user_id, seq`,
  );
}

export async function instanceStatuses(services: AppServices, journeyId: string): Promise<string[]> {
  const rows = await query<{ status: string }>(services.db, sql`select status from journey_instances where journey_id = ${journeyId}::uuid order by user_id`);
  return rows.map((r) => r.status);
}
