import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDefaultWorkspace } from "../../app/lib/accounts.server";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import type { AppServices } from "../../app/services.server";
import { query } from "../../db/client";
import { users } from "../../db/schema";
import { extensionStatuses, loadExtension, unloadExtension } from "../../nodes/extension/loader.server";
import { buildJourney } from "../../workflows/builder";
import type { EmbeddedEngine } from "../../workflows/embedded/engine.server";
import { createTestDb, type TestDb } from "../support/db";
import { startWithTutorial } from "./tutorial-support";

// Users wait (wait-for-event) in front of a custom node while its extension is upgraded from
// version 1 to version 2, whose config has another shape. When they move on, the node's stored
// version-1 config is migrated by the new version's `migrate` before it runs: they leave by `sent`
// with what the migration made, on the embedded engine and on a real Temporal server. Without the
// migration the version-2 schema refuses the old config (checked: with the migration step taken
// out of executeNode, this test fails).

const temporalAddress = process.env.TEMPORAL_ADDRESS;
if (!temporalAddress) console.log("[extensions] TEMPORAL_ADDRESS is not set: the migration test runs on the embedded engine only.");

function extensionFolder(version: 1 | 2): string {
  const dir = mkdtempSync(join(tmpdir(), `acme-greet-v${version}-`));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "acme-greet", version: `${version}.0.0`, type: "module" }));
  const v1 = `
  version: 1,
  config: z.object({ url: z.string().url(), text: z.string().min(1) }),
  defaults: { url: "", text: "" },
  async run(ctx) {
    const r = await ctx.fetch(ctx.config.url, { method: "POST", body: JSON.stringify({ user: ctx.user.id, says: ctx.config.text }) });
    return r.ok ? output("sent") : retry("http " + r.status);
  },`;
  const v2 = `
  version: 2,
  config: z.object({ url: z.string().url(), greeting: z.string().min(1), punctuation: z.enum(["!", "."]) }),
  defaults: { url: "", greeting: "", punctuation: "." },
  migrate(old: any, fromVersion: number) {
    return fromVersion === 1 ? { url: old.url, greeting: old.text, punctuation: "!" } : old;
  },
  async run(ctx) {
    const r = await ctx.fetch(ctx.config.url, { method: "POST", body: JSON.stringify({ user: ctx.user.id, says: ctx.config.greeting + ctx.config.punctuation, v: 2 }) });
    return r.ok ? output("sent") : retry("http " + r.status);
  },`;
  writeFileSync(
    join(dir, "index.ts"),
    `import { defineExtension, defineNode, output, retry, z } from "waypost/extension";
export default defineExtension({ apiVersion: 1, nodes: [defineNode({
  id: "acme.greet",
  title: { en: "Greet", zh: "问候" },
  description: { en: "Greets the user", zh: "问候用户" },
  icon: "👋",
  outputs: [{ id: "sent", label: { en: "Sent", zh: "已发送" } }],${version === 1 ? v1 : v2}
})] });
`,
  );
  return dir;
}

interface Harness {
  services: AppServices;
  /** Returns once every user has gone as far as they can for now. */
  settle(expectWaiting: number): Promise<void>;
  close(): Promise<void>;
}

describe("a custom node's version changes under waiting users (embedded engine)", () => {
  migration(async (db, v1) => {
    const services = await startWithTutorial(db, v1);
    const engine = services.engine as EmbeddedEngine;
    return { services, settle: async () => void (await engine.runUntilIdle()), close: async () => {} };
  });
});

describe.skipIf(!temporalAddress)("a custom node's version changes under waiting users (Temporal engine, real server and worker)", () => {
  migration(async (db, v1) => {
    const services = await startWithTutorial(db, v1, { WAYPOST_ENGINE: "temporal", TEMPORAL_ADDRESS: temporalAddress!, TEMPORAL_TASK_QUEUE: `waypost-ext-migration-${randomUUID()}` });
    await services.engine!.start();
    return {
      services,
      async settle(expectWaiting) {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const [row] = await query<{ active: number; waiting: number }>(
            services.db,
            sql`select count(*) filter (where i.status = 'active')::int as active,
                       count(*) filter (where i.status = 'active' and exists (select 1 from journey_node_events e where e.instance_id = i.id and e.node_id = 'wait' and e.kind = 'entered')
                                        and not exists (select 1 from journey_node_events e where e.instance_id = i.id and e.node_id = 'wait' and e.kind = 'left'))::int as waiting
                from journey_instances i`,
          );
          if (row.active === row.waiting && row.waiting === expectWaiting) return;
          if (Date.now() > deadline) throw new Error(`not settled after 60 s: ${JSON.stringify(row)}`);
          await sleep(100);
        }
      },
      close: () => services.engine!.stop(),
    };
  });
});

function migration(setup: (db: TestDb, v1: string) => Promise<Harness>): void {
  let db: TestDb;
  let h: Harness;
  let receiver: Server;
  let url: string;
  const received: Array<{ user: string; says: string; v?: number }> = [];
  const v1 = extensionFolder(1);
  const v2 = extensionFolder(2);

  beforeAll(async () => {
    db = await createTestDb();
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push(JSON.parse(body));
        res.end("ok");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/greet`;
    h = await setup(db, v1);
  });
  afterAll(async () => {
    await h?.close();
    unloadExtension(v1);
    unloadExtension(v2);
    receiver?.close();
    await db?.drop();
  });

  it("users who waited before the node continue with the migrated config", async () => {
    const { services } = h;
    expect(extensionStatuses()).toMatchObject([{ name: "acme-greet", version: "1.0.0", status: "loaded", nodes: [{ id: "acme.greet", version: 1 }] }]);
    const workspace = await ensureDefaultWorkspace(services.db);
    const document = buildJourney({
      name: "greet after the campaign starts",
      settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
      nodes: [
        { id: "trigger", type: "core.trigger", config: { source: "api" } },
        { id: "wait", type: "core.wait-for-event", config: { event: "campaign_started", timeout: { amount: 7, unit: "days" } } },
        { id: "greet", type: "acme.greet", config: { url, text: "hello" } },
        { id: "exit", type: "core.exit", config: {} },
      ],
      edges: [
        ["trigger", "next", "wait"],
        ["wait", "happened", "greet"],
        ["wait", "timed_out", "exit"],
        ["greet", "sent", "exit"],
        ["greet", "failed", "exit"],
      ],
    });
    const journey = await createJourney(services.db, { workspaceId: workspace.id }, { name: document.name, document });
    expect((await publishJourney(services.db, { workspaceId: workspace.id }, { journeyId: journey.id })).ok).toBe(true);
    for (const userId of ["w1", "w2"]) {
      await services.db.insert(users).values({ workspaceId: workspace.id, id: userId, traits: {}, tags: [] });
      expect(await services.engine!.triggerJourney({ workspaceId: workspace.id, journeyId: journey.id, userId })).toMatchObject({ entered: true });
    }
    await h.settle(2);
    expect(received).toEqual([]);

    // The deployment upgrades the extension (a restart with version 2 of the package).
    unloadExtension(v1);
    expect(await loadExtension(v2)).toMatchObject({ status: "loaded", version: "2.0.0", nodes: [{ id: "acme.greet", version: 2 }] });

    const now = Date.now();
    await services.engine!.handleEvents(["w1", "w2"].map((userId) => ({ workspaceId: workspace.id, userId, messageId: `m-${userId}`, name: "campaign_started", properties: {}, timestamp: now })));
    await h.settle(0);

    expect(received.sort((a, b) => a.user.localeCompare(b.user))).toEqual([
      { user: "w1", says: "hello!", v: 2 },
      { user: "w2", says: "hello!", v: 2 },
    ]);
    const left = await query<{ user_id: string; output: string }>(
      services.db,
      sql`select user_id, output from journey_node_events where journey_id = ${journey.id}::uuid and node_id = 'greet' and kind = 'left' order by user_id`,
    );
    expect(left).toEqual([
      { user_id: "w1", output: "sent" },
      { user_id: "w2", output: "sent" },
    ]);
  });
}
