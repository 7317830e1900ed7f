import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import { embeddedAppEngine } from "../../cli/engine-services";
import { createGuardedFetch, parseAllowlist } from "../../nodes/net/outbound.server";
import { actionContext, fakeServices } from "../../nodes/testing";
import { run as runWebhook } from "../../nodes/webhook/runtime.server";
import { buildJourney } from "../../workflows/builder";
import { rows } from "../../workflows/embedded/db.server";
import type { EmbeddedEngine } from "../../workflows/embedded/engine.server";
import { startTestApp, type TestApp } from "../support/app";
import { blockedUrls as blockedUrlsFor } from "./ssrf-forms";

/**
 * The SSRF test of issue 13. One loopback listener stands for every internal service: it listens
 * on all addresses ("::", dual stack), so 127.0.0.1, ::1, 0.0.0.0 and every other way of writing
 * this machine reach it. It must receive NOTHING while webhooks try every blocked form — directly
 * through the webhook node and through a real published journey on the embedded engine wired as
 * the app wires it (cli/engine-services.ts, WAYPOST_OUTBOUND_ALLOW from the config). The one
 * allowlisted destination (127.0.0.2, a different loopback address and port) must work, and its
 * redirects into the listener must be refused.
 */
let internal: Server;
let P: number;
const internalHits: string[] = [];
let partner: Server;
let Q: number;
const partnerHits: string[] = [];
let app: TestApp;
let engine: EmbeddedEngine;

const blockedUrls = () => blockedUrlsFor(P, Q);
const listen = (server: Server, host: string) => new Promise<number>((ok) => server.listen({ port: 0, host, ipv6Only: false }, () => ok((server.address() as AddressInfo).port)));

beforeAll(async () => {
  internal = createServer((req, res) => {
    internalHits.push(`${req.method} ${req.headers.host} ${req.url}`);
    res.writeHead(200, { "content-type": "application/json" }).end('{"secret":"internal"}');
  });
  P = await listen(internal, "::");
  partner = createServer((req, res) => {
    partnerHits.push(`${req.method} ${req.url}`);
    const url = new URL(req.url ?? "/", "http://partner");
    if (url.pathname === "/to") res.writeHead(302, { Location: url.searchParams.get("location")! }).end();
    else res.writeHead(201).end("ok");
  });
  Q = await listen(partner, "127.0.0.2");
  app = await startTestApp({ env: { WAYPOST_OUTBOUND_ALLOW: "127.0.0.2" } });
  engine = embeddedAppEngine(app.services);
  app.services.engine = engine;
});

afterAll(async () => {
  await engine?.stop();
  await app?.close();
  for (const server of [internal, partner]) {
    server?.closeAllConnections();
    await new Promise((ok) => server?.close(ok));
  }
});

describe("SSRF: the internal listener receives nothing", () => {
  it("proves the listener is reachable (so silence means refusal, not a dead port)", async () => {
    const response = await fetch(`http://127.0.0.1:${P}/probe`);
    expect(response.status).toBe(200);
    expect(internalHits.splice(0)).toEqual([`GET 127.0.0.1:${P} /probe`]);
  });

  it("webhook node, directly: every blocked form fails for good as destination_refused, with no status", async () => {
    const services = { ...fakeServices(), fetch: createGuardedFetch({ allow: parseAllowlist("127.0.0.2") }) };
    const urls = blockedUrls();
    for (const url of urls) {
      const result = await runWebhook(actionContext(services), { url, method: "POST", headers: { Authorization: "Bearer s" }, body: "{}", timeoutMs: 1_000 });
      expect(result, url).toMatchObject({ output: "failed", detail: { reason: "destination_refused" } });
      expect((result as { detail: Record<string, unknown> }).detail.status, url).toBeUndefined();
    }
    // The host can come from a user trait (anyone with the write key sets traits): checked after rendering.
    const traitUser = { id: "u-trait", traits: { crm_host: `127.0.0.1:${P}` } };
    const fromTrait = await runWebhook(actionContext(services, { user: traitUser }), { url: "http://{{ user.crm_host }}/users/{{ user.id }}", timeoutMs: 1_000 });
    expect(fromTrait).toMatchObject({ output: "failed", detail: { reason: "destination_refused", host: "127.0.0.1" } });
    // A name that does not resolve is a network failure, retried like any other — not a refusal.
    const unresolvable = await runWebhook(actionContext(services), { url: "http://no-such-host.invalid/hook", timeoutMs: 1_000 });
    expect(unresolvable).toMatchObject({ retry: {} });
    expect(internalHits).toEqual([]);
    console.log(`SSRF (webhook node): ${urls.length + 1} blocked destinations tried, ${internalHits.length} reached the internal listener`);
  });

  it("a published journey on the embedded engine (the app's wiring): blocked forms refused, the allowlisted partner called", async () => {
    const { workspaceId, services } = app;
    const document = buildJourney({
      name: "ssrf probe",
      settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
      nodes: [
        { id: "trigger", type: "core.trigger", config: { source: "event", event: "probe" } },
        { id: "hook", type: "example.webhook", config: { url: "{{ user.hook }}", method: "POST", headers: { "X-Api-Key": "k" }, body: '{"u":"{{ user.id }}"}', timeoutMs: 1_000 } },
        { id: "exit", type: "core.exit", config: {} },
      ],
      edges: [
        ["trigger", "next", "hook"],
        ["hook", "success", "exit"],
        ["hook", "failed", "exit"],
      ],
    });
    const created = await createJourney(services.db, { workspaceId }, { name: "ssrf probe", document });
    const published = await publishJourney(services.db, { workspaceId }, { journeyId: created.id });
    expect(published.ok).toBe(true);

    const urls = blockedUrls();
    const users = [...urls.map((url, i) => ({ id: `blocked-${i}`, hook: url })), { id: "partner", hook: `http://127.0.0.2:${Q}/hook` }];
    await rows(
      services.db,
      sql`insert into users (workspace_id, id, traits)
          select ${workspaceId}::uuid, d.id, jsonb_build_object('hook', d.hook)
          from unnest(${`{${users.map((u) => JSON.stringify(u.id)).join(",")}}`}::text[], ${`{${users.map((u) => JSON.stringify(u.hook)).join(",")}}`}::text[]) as d(id, hook)`,
    );
    partnerHits.length = 0;
    await engine.handleEvents(users.map((u, i) => ({ workspaceId, userId: u.id, messageId: `probe-${i}`, name: "probe", properties: {}, timestamp: Date.now() })));
    await engine.runUntilIdle();

    const left = await rows<{ user_id: string; output: string; reason: string | null; data: Record<string, unknown> | null }>(
      services.db,
      sql`select user_id, output, reason, data from journey_node_events where journey_id = ${created.id}::uuid and node_id = 'hook' and kind = 'left'`,
    );
    const retries = await rows<{ n: number }>(services.db, sql`select count(*)::int as n from journey_node_events where journey_id = ${created.id}::uuid and kind = 'retry'`);
    const byUser = new Map(left.map((r) => [r.user_id, r]));
    for (const [i, url] of urls.entries()) {
      expect(byUser.get(`blocked-${i}`), url).toMatchObject({ output: "failed", reason: "destination_refused" });
      expect(JSON.stringify(byUser.get(`blocked-${i}`)?.data ?? {}), url).not.toMatch(/status|secret/);
    }
    expect(byUser.get("partner")).toMatchObject({ output: "success" });
    // Refusals are permanent: no retries were scheduled.
    expect(retries[0]!.n).toBe(0);
    // The partner saw its own hook call and the first hop of each redirect, nothing else.
    expect(partnerHits.filter((h) => h === "POST /hook")).toHaveLength(1);
    expect(partnerHits.filter((h) => h.startsWith("POST /to?"))).toHaveLength(4);
    expect(internalHits).toEqual([]);
    console.log(`SSRF (journey, embedded engine): ${urls.length} blocked users refused, 1 allowlisted call made, ${internalHits.length} reached the internal listener`);
  });
});
