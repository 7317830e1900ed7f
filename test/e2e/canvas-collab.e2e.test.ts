import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJourney, getJourney } from "../../app/lib/journeys.server";
import { registeredNoOrderJourney } from "../../workflows/demo-journeys";
import { startTestApp, type TestApp } from "../support/app";
import { launchBrowser, screenshot } from "../support/browser";

/** UI assertions that wait on the server (autosave, publish) get time for a busy machine. */
const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

/**
 * Two people on one draft, and one person across two journeys: conflict-safe autosave with
 * "reload & reapply", and copy/paste through the system clipboard with undo/redo from the keyboard.
 */
describe("canvas: two editors, two journeys", () => {
  let app: TestApp;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let alice: { email: string; password: string; id: string };
  let bob: { email: string; password: string; id: string };
  let shared: string;
  let empty: string;

  beforeAll(async () => {
    app = await startTestApp({ serve: true });
    alice = await app.addOperator("marketer", "alice@example.com");
    bob = await app.addOperator("marketer", "bob@example.com");
    const actor = { workspaceId: app.workspaceId, operatorId: alice.id };
    shared = (await createJourney(app.services.db, actor, { name: "注册未下单 · shared draft", document: registeredNoOrderJourney() })).id;
    empty = (await createJourney(app.services.db, actor, { name: "Paste target" })).id;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await app?.close();
  });

  async function signedIn(who: { email: string; password: string }): Promise<Page> {
    const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 800 } });
    contexts.push(context);
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: app.url });
    const page = await context.newPage();
    await page.goto(`${app.url}/login`);
    await page.getByLabel("Email").fill(who.email);
    await page.getByLabel("Password").fill(who.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/journeys$/);
    return page;
  }

  async function open(page: Page, journeyId: string) {
    await page.goto(`${app.url}/journeys/${journeyId}`);
    await page.waitForSelector('[data-testid="editor"]');
  }

  async function rename(page: Page, nodeId: string, label: string) {
    await page.getByTestId(`node-${nodeId}`).click();
    await poll(() => page.getByTestId("inspector").getAttribute("data-node-id")).toBe(nodeId);
    await page.getByTestId("inspector").getByLabel("Name on the canvas").fill(label);
  }

  const saveState = (page: Page) => page.getByTestId("save-state").getAttribute("data-state");

  it("the second editor to save sees who changed the draft, keeps their work, and reapplies it", async () => {
    const a = await signedIn(alice);
    const b = await signedIn(bob);
    await open(a, shared);
    await open(b, shared);

    await rename(a, "sms_hongbao", "红包短信 (Alice)");
    await poll(() => saveState(a)).toBe("saved");

    // Bob's editor still holds the revision both of them opened.
    await rename(b, "wait_order", "等下单 (Bob)");
    await poll(() => saveState(b)).toBe("conflict");
    const banner = await b.getByTestId("conflict").textContent();
    expect(banner).toContain("alice@example.com saved this draft");
    expect(banner).toContain("your changes are kept on this device");
    expect(await b.getByTestId("node-wait_order").textContent()).toContain("等下单 (Bob)");
    await screenshot(b, "canvas-collab-01-conflict");

    await b.getByTestId("reapply").click();
    await poll(() => saveState(b)).toBe("saved");
    expect(await b.getByTestId("node-sms_hongbao").textContent()).toContain("红包短信 (Alice)");
    expect(await b.getByTestId("node-wait_order").textContent()).toContain("等下单 (Bob)");
    await screenshot(b, "canvas-collab-02-reapplied");

    const stored = await getJourney(app.services.db, app.workspaceId, shared);
    const labels = Object.fromEntries(stored.draft!.document.nodes.map((n) => [n.id, n.label]));
    expect(labels).toMatchObject({ sms_hongbao: "红包短信 (Alice)", wait_order: "等下单 (Bob)" });
    expect(stored.draft!.updatedBy).toBe("bob@example.com");

    // Alice's next save now conflicts with Bob's, and she too loses nothing.
    await rename(a, "exit", "结束");
    await poll(() => saveState(a)).toBe("conflict");
    await a.getByTestId("reapply").click();
    await poll(() => saveState(a)).toBe("saved");
    const final = await getJourney(app.services.db, app.workspaceId, shared);
    expect(Object.fromEntries(final.draft!.document.nodes.map((n) => [n.id, n.label]))).toMatchObject({
      sms_hongbao: "红包短信 (Alice)",
      wait_order: "等下单 (Bob)",
      exit: "结束",
    });
  });

  it("copies nodes into another journey with Ctrl+C / Ctrl+V, and undoes and redoes the paste", async () => {
    const page = await signedIn(alice);
    await open(page, shared);
    await page.getByTestId("node-wait_order").click();
    await page.getByTestId("node-sms_hongbao").click({ modifiers: ["Control"] });
    await page.keyboard.press("Control+C");
    await poll(() => page.getByTestId("toast").textContent()).toContain("Copied 2 nodes");

    await open(page, empty);
    await poll(() => page.getByTestId("canvas-empty").isVisible()).toBe(true);
    const canvas = (await page.getByTestId("canvas").boundingBox())!;
    await page.mouse.move(canvas.x + 120, canvas.y + 120);
    await page.keyboard.press("Control+V");
    await poll(() => page.locator(".react-flow__node").count()).toBe(2);
    expect(await page.locator(".react-flow__edge").count()).toBe(1);
    const pasted = await page.locator(".react-flow__node").evaluateAll((nodes) => nodes.map((n) => n.getAttribute("data-id")));
    expect(pasted.every((id) => id && !["wait_order", "sms_hongbao"].includes(id))).toBe(true);
    await screenshot(page, "canvas-collab-03-pasted");

    await page.keyboard.press("Control+Z");
    await poll(() => page.locator(".react-flow__node").count()).toBe(0);
    await page.keyboard.press("Control+Shift+Z");
    await poll(() => page.locator(".react-flow__node").count()).toBe(2);
    await poll(() => saveState(page)).toBe("saved");
    const stored = await getJourney(app.services.db, app.workspaceId, empty);
    expect(stored.draft!.document.nodes.map((n) => n.type).sort()).toEqual(["core.sms", "core.wait-for-event"]);
    expect(stored.draft!.document.edges).toHaveLength(1);
  });
});
