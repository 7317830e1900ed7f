import type { Browser, Page } from "playwright-core";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import { createJourney, publishJourney, saveDraft, startEditing } from "../../app/lib/journeys.server";
import { embeddedAppEngine } from "../../cli/engine-services";
import { buildJourney } from "../../workflows/builder";
import type { EmbeddedEngine } from "../../workflows/embedded/engine.server";
import { startTestApp, type TestApp } from "../support/app";
import { launchBrowser, screenshot } from "../support/browser";

const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

// An admin publishes version 2 while users wait in version 1: the editor asks whether to keep them
// or move them, shows where they wait and how many, takes the operator's mapping for a step the new
// version no longer has, and moves them (the embedded engine; the move itself is tested on both
// engines in test/engine/move.test.ts and test/live/version-move.live.test.ts).

const doc = (name: string, waitId: string, days: number) =>
  buildJourney({
    name,
    settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "event", event: "lapsed", filters: [] } },
      { id: waitId, type: "core.wait", label: `Wait ${days} days`, config: { mode: "duration", duration: { amount: days, unit: "days" } } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", waitId],
      [waitId, "next", "exit"],
    ],
  });

describe("moving users to a new version from the editor", () => {
  let app: TestApp;
  let engine: EmbeddedEngine;
  let browser: Browser;
  let page: Page;
  let journeyId: string;

  beforeAll(async () => {
    app = await startTestApp({ serve: true });
    engine = embeddedAppEngine(app.services);
    app.services.engine = engine;
    const admin = await app.addOperator("admin");
    const actor = { workspaceId: app.workspaceId };
    journeyId = (await createJourney(app.services.db, actor, { name: "召回 · Win-back", document: doc("召回 · Win-back", "wait_long", 3) })).id;
    expect((await publishJourney(app.services.db, actor, { journeyId })).ok).toBe(true);
    for (const userId of ["u1", "u2"]) {
      await query(app.services.db, sql`insert into users (workspace_id, id, traits) values (${app.workspaceId}::uuid, ${userId}, '{}'::jsonb)`);
      await engine.handleEvents([{ workspaceId: app.workspaceId, userId, messageId: `m-${userId}`, name: "lapsed", properties: {}, timestamp: Date.now() }]);
    }
    await engine.runUntilIdle();
    // Version 2 as a draft: the 3-day wait is replaced by a 1-day wait with another id.
    const { revision } = await startEditing(app.services.db, actor, journeyId);
    await saveDraft(app.services.db, actor, { journeyId, baseRevision: revision, document: doc("召回 · Win-back", "wait_short", 1) });

    browser = await launchBrowser();
    page = await browser.newPage({ locale: "en-US", viewport: { width: 1280, height: 800 } });
    await page.goto(`${app.url}/login?next=/journeys/${journeyId}`);
    await page.getByLabel("Email").fill(admin.email);
    await page.getByLabel("Password").fill(admin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(new RegExp(`/journeys/${journeyId}$`));
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it("asks after publishing, needs a mapping for the removed step, and moves the users", async () => {
    await poll(async () => {
      if (!(await page.getByTestId("move-dialog").isVisible())) await page.getByTestId("publish").click();
      return page.getByTestId("move-dialog").isVisible();
    }).toBe(true);
    const row = page.getByTestId("move-row-wait_long");
    await poll(() => row.textContent()).toContain("2");
    // Named as version 1 names it, although version 2 no longer has the step.
    expect(await row.textContent()).toContain("Wait 3 days");
    expect(await page.getByTestId("move-submit").isDisabled()).toBe(true);
    await screenshot(page, "move-01-dialog");

    await page.getByTestId("move-target-wait_long").selectOption("wait_short");
    await page.getByTestId("move-submit").click();
    await poll(() => page.getByTestId("toast").textContent()).toContain("Moved 2 users to version 2");
    await screenshot(page, "move-02-moved");

    const rows = await query<{ version: number; node_id: string }>(
      app.services.db,
      sql`select v.version, i.node_id from journey_instances i join journey_versions v on v.id = i.version_id where i.journey_id = ${journeyId}::uuid order by i.user_id`,
    );
    expect(rows.map((r) => [r.version, r.node_id])).toEqual([
      [2, "wait_short"],
      [2, "wait_short"],
    ]);
  });
});
