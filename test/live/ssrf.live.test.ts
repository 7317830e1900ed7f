import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../app/config.server";
import { ensureDefaultWorkspace } from "../../app/lib/accounts.server";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import type { AppServices } from "../../app/services.server";
import { createServices } from "../../cli/services";
import { query } from "../../db/client";
import { buildJourney } from "../../workflows/builder";
import { blockedUrls } from "../security/ssrf-forms";
import { createTestDb, type TestDb } from "../support/db";
import { temporalAddress } from "./support";

// The SSRF test (test/security/ssrf.test.ts) on a real Temporal server: the app's Temporal engine
// (createServices, WAYPOST_ENGINE=temporal) runs the webhook node as an activity with the app's
// guarded fetch. The internal listener must receive nothing; the allowlisted partner is called.

if (!temporalAddress) console.log("[ssrf] TEMPORAL_ADDRESS is not set: the Temporal SSRF run is skipped (scripts/temporal-server.sh start <dir>).");

describe.skipIf(!temporalAddress)("SSRF on Temporal: the internal listener receives nothing", () => {
  let db: TestDb;
  let services: AppServices;
  let internal: Server;
  let partner: Server;
  let P: number;
  let Q: number;
  const internalHits: string[] = [];
  const partnerHits: string[] = [];
  const listen = (server: Server, host: string) => new Promise<number>((ok) => server.listen({ port: 0, host, ipv6Only: false }, () => ok((server.address() as AddressInfo).port)));

  beforeAll(async () => {
    internal = createServer((req, res) => (internalHits.push(`${req.method} ${req.url}`), res.end("internal")));
    partner = createServer((req, res) => {
      partnerHits.push(`${req.method} ${req.url}`);
      const url = new URL(req.url ?? "/", "http://partner");
      if (url.pathname === "/to") res.writeHead(302, { Location: url.searchParams.get("location")! }).end();
      else res.writeHead(201).end("ok");
    });
    [P, Q] = await Promise.all([listen(internal, "::"), listen(partner, "127.0.0.2")]);
    db = await createTestDb();
    const config = loadConfig({
      WAYPOST_LOG_LEVEL: "silent",
      WAYPOST_DEMO_DATA: "false",
      NODE_ENV: "test",
      WAYPOST_DATA_DIR: mkdtempSync(join(tmpdir(), "waypost-data-")),
      WAYPOST_ENGINE: "temporal",
      TEMPORAL_ADDRESS: temporalAddress!,
      TEMPORAL_TASK_QUEUE: `waypost-ssrf-${randomUUID()}`,
      WAYPOST_OUTBOUND_ALLOW: "127.0.0.2",
    });
    services = await createServices(config, { database: db });
    await services.engine!.start();
  });
  afterAll(async () => {
    await services?.engine?.stop();
    await db?.drop();
    for (const server of [internal, partner]) {
      server?.closeAllConnections();
      await new Promise((ok) => server?.close(ok));
    }
  });

  it("refuses every blocked form and redirect as destination_refused; calls the allowlisted partner", async () => {
    const workspace = await ensureDefaultWorkspace(services.db);
    const document = buildJourney({
      name: "ssrf probe (temporal)",
      settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
      nodes: [
        { id: "trigger", type: "core.trigger", config: { source: "event", event: "probe" } },
        { id: "hook", type: "example.webhook", config: { url: "{{ user.hook }}", method: "POST", headers: { "X-Api-Key": "k" }, timeoutMs: 1_000 } },
        { id: "exit", type: "core.exit", config: {} },
      ],
      edges: [
        ["trigger", "next", "hook"],
        ["hook", "success", "exit"],
        ["hook", "failed", "exit"],
      ],
    });
    const created = await createJourney(services.db, { workspaceId: workspace.id }, { name: "ssrf probe (temporal)", document });
    expect((await publishJourney(services.db, { workspaceId: workspace.id }, { journeyId: created.id })).ok).toBe(true);

    const urls = blockedUrls(P, Q);
    const users = [...urls.map((url, i) => ({ id: `blocked-${i}`, hook: url })), { id: "partner", hook: `http://127.0.0.2:${Q}/hook` }];
    for (const u of users) {
      await query(services.db, sql`insert into users (workspace_id, id, traits) values (${workspace.id}::uuid, ${u.id}, ${JSON.stringify({ hook: u.hook })}::jsonb)`);
    }
    await services.engine!.handleEvents(users.map((u, i) => ({ workspaceId: workspace.id, userId: u.id, messageId: `probe-${i}`, name: "probe", properties: {}, timestamp: Date.now() })));

    const deadline = Date.now() + 120_000;
    let left: Array<{ user_id: string; output: string; reason: string | null }> = [];
    for (;;) {
      left = await query(services.db, sql`select user_id, output, reason from journey_node_events where journey_id = ${created.id}::uuid and node_id = 'hook' and kind = 'left'`);
      if (left.length === users.length) break;
      if (Date.now() > deadline) throw new Error(`${left.length} of ${users.length} users left the webhook within 120 s`);
      await sleep(200);
    }
    const byUser = new Map(left.map((r) => [r.user_id, r]));
    for (const [i, url] of urls.entries()) expect(byUser.get(`blocked-${i}`), url).toMatchObject({ output: "failed", reason: "destination_refused" });
    expect(byUser.get("partner")).toMatchObject({ output: "success" });
    const retries = await query<{ n: number }>(services.db, sql`select count(*)::int as n from journey_node_events where journey_id = ${created.id}::uuid and kind = 'retry'`);
    expect(retries[0]!.n).toBe(0);
    expect(partnerHits.filter((h) => h === "POST /hook")).toHaveLength(1);
    expect(internalHits).toEqual([]);
    console.log(`SSRF (journey, Temporal): ${urls.length} blocked users refused, 1 allowlisted call made, ${internalHits.length} reached the internal listener`);
  });
});
