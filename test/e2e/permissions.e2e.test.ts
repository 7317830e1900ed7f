import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Role } from "../../db/schema";
import { changeJourneyStatus } from "../../app/lib/journey-status.server";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import { registeredNoOrderJourney } from "../../workflows/demo-journeys";
import { startTestApp, type TestApp } from "../support/app";
import { launchBrowser, screenshot } from "../support/browser";

const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

/**
 * Buttons follow the permission table and the journey's state (issue 13): a marketer is offered no
 * Archive and no Pause; an admin is offered Archive only on journeys that are not archived, Pause
 * only on a live journey and Resume only on a paused one; a developer's key form offers only the
 * scopes a developer may create.
 */
describe("buttons offered by role and journey state", () => {
  let app: TestApp;
  let browser: Browser;
  const people = new Map<Role, { email: string; password: string }>();
  const ids: Record<"draft" | "live" | "archived", string> = { draft: "", live: "", archived: "" };

  beforeAll(async () => {
    app = await startTestApp({ serve: true });
    for (const role of ["marketer", "developer", "admin"] as const) people.set(role, await app.addOperator(role));
    const actor = { workspaceId: app.workspaceId };
    const make = async (name: string, publish: boolean) => {
      const { id } = await createJourney(app.services.db, actor, { name, document: { ...registeredNoOrderJourney(), name } });
      if (publish) expect((await publishJourney(app.services.db, actor, { journeyId: id })).ok).toBe(true);
      return id;
    };
    ids.draft = await make("Draft journey", false);
    ids.live = await make("Live journey", true);
    ids.archived = await make("Archived journey", true);
    await changeJourneyStatus(app.services, actor, ids.archived, "archive");
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  async function signIn(role: Role, next: string): Promise<Page> {
    const who = people.get(role)!;
    const page = await browser.newPage({ locale: "en-US", viewport: { width: 1280, height: 860 } });
    await page.goto(`${app.url}/login?next=${encodeURIComponent(next)}`);
    await page.getByLabel("Email").fill(who.email);
    await page.getByLabel("Password").fill(who.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname === next);
    return page;
  }

  const row = (page: Page, id: string) => page.getByTestId(`journey-row-${id}`);

  it("a marketer: restore on the archived journey only, no archive, no pause", async () => {
    const page = await signIn("marketer", "/journeys");
    await poll(() => page.getByTestId("journey-list").isVisible()).toBe(true);
    expect(await page.getByTestId("archive").count()).toBe(0);
    expect(await row(page, ids.archived).getByTestId("unarchive").count()).toBe(1);
    expect(await page.getByTestId("unarchive").count()).toBe(1);
    await screenshot(page, "permissions-01-marketer-journeys");
    await page.goto(`${app.url}/journeys/${ids.live}`);
    await poll(() => page.getByTestId("problem-count").isVisible()).toBe(true);
    expect(await page.getByTestId("toggle-status").count()).toBe(0);
    await page.close();
  });

  it("an admin: archive where it means something, pause on live, resume on paused, nothing on a draft", async () => {
    const page = await signIn("admin", "/journeys");
    await poll(() => page.getByTestId("journey-list").isVisible()).toBe(true);
    expect(await row(page, ids.draft).getByTestId("archive").count()).toBe(1);
    expect(await row(page, ids.live).getByTestId("archive").count()).toBe(1);
    expect(await row(page, ids.archived).getByTestId("archive").count()).toBe(0);
    expect(await row(page, ids.archived).getByTestId("unarchive").count()).toBe(1);

    await page.goto(`${app.url}/journeys/${ids.draft}`);
    await poll(() => page.getByTestId("problem-count").isVisible()).toBe(true);
    expect(await page.getByTestId("toggle-status").count()).toBe(0);

    await page.goto(`${app.url}/journeys/${ids.live}`);
    await poll(() => page.getByTestId("toggle-status").textContent()).toBe("Pause");
    await page.waitForLoadState("networkidle");
    await page.getByTestId("toggle-status").click();
    await poll(() => page.getByTestId("toggle-status").textContent()).toBe("Resume");
    await screenshot(page, "permissions-02-admin-paused");
    await page.close();
  });

  it("a developer's key form offers read and edit scopes, not full", async () => {
    const page = await signIn("developer", "/settings");
    await poll(() => page.getByTestId("api-keys").isVisible()).toBe(true);
    await page.waitForLoadState("networkidle");
    await page.getByTestId("api-keys").locator("select").first().selectOption("secret");
    await poll(() => page.getByTestId("key-scope").locator("option").allTextContents()).toEqual(["read", "edit"]);
    await page.close();
  });
});
