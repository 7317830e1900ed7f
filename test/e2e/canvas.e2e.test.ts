import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJourney } from "../../app/lib/journeys.server";
import { startTestApp, type TestApp } from "../support/app";
import { launchBrowser, screenshot } from "../support/browser";

/** UI assertions that wait on the server (autosave, publish) get time for a busy machine. */
const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

/**
 * PRODUCT.md journey 2, built the way a marketer would: from an empty canvas, with the mouse,
 * configured in the inspector, refused once for an unconfigured node, fixed, published, test-run
 * down the timeout branch, and found intact after a reload.
 */
describe("canvas: a marketer builds “registered but no order in 24 h” by drag and drop", () => {
  let app: TestApp;
  let browser: Browser;
  let page: Page;
  let marketer: { email: string; password: string };

  beforeAll(async () => {
    app = await startTestApp({ serve: true });
    marketer = await app.addOperator("marketer");
    browser = await launchBrowser();
    page = await browser.newPage({ locale: "en-US", viewport: { width: 1280, height: 800 } });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  const canvas = () => page.getByTestId("canvas");
  const inspector = () => page.getByTestId("inspector");
  const nodeIdOf = async (type: string) => (await page.locator(`.react-flow__node:has([data-node-type="${type}"])`).first().getAttribute("data-id"))!;
  const card = (id: string) => page.getByTestId(`node-${id}`);

  async function centre(locator: Locator): Promise<{ x: number; y: number }> {
    const box = (await locator.boundingBox())!;
    return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  }

  /** Drags a node type from the palette and drops it at a point of the canvas. */
  async function drop(type: string, at: { x: number; y: number }): Promise<string> {
    const before = await page.locator(".react-flow__node").count();
    await page.getByTestId(`palette-${type}`).dragTo(canvas(), { targetPosition: at });
    await poll(() => page.locator(".react-flow__node").count()).toBe(before + 1);
    return nodeIdOf(type);
  }

  /** Presses on an output port and lets go on the target's input (or its card), as a person does. */
  async function wire(source: string, port: string, target: string, onto: "input" | "card" = "input") {
    const from = await centre(page.getByTestId(`port-${source}-${port}`));
    const to = await centre(onto === "input" ? page.locator(`.react-flow__node[data-id="${target}"] .react-flow__handle.target`) : card(target));
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 6 });
    await page.mouse.move(to.x, to.y, { steps: 6 });
    await page.mouse.up();
  }

  const edgeCount = () => page.locator(".react-flow__edge").count();

  it("builds, fails to publish, fixes, publishes, test-runs and reloads", async () => {
    await page.goto(`${app.url}/login?next=/journeys`);
    await page.getByLabel("Email").fill(marketer.email);
    await page.getByLabel("Password").fill(marketer.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/journeys$/);
    await poll(() => page.getByTestId("empty-journeys").isVisible()).toBe(true);
    await screenshot(page, "canvas-01-empty-list");

    await page.getByTestId("new-journey").click();
    await page.getByTestId("new-journey-name").fill("注册未下单 · Registered, no order in 24 h");
    await page.getByTestId("create-journey").click();
    await page.waitForURL(/\/journeys\/[0-9a-f-]{36}$/);
    const journeyId = page.url().split("/").pop()!;
    await poll(() => page.getByTestId("canvas-empty").isVisible()).toBe(true);
    await screenshot(page, "canvas-02-empty-canvas");

    // Drag four nodes from the palette onto the canvas.
    const trigger = await drop("core.trigger", { x: 250, y: 50 });
    const wait = await drop("core.wait-for-event", { x: 250, y: 220 });
    const sms = await drop("core.sms", { x: 420, y: 400 });
    const exit = await drop("core.exit", { x: 150, y: 570 });
    expect(new Set([trigger, wait, sms, exit]).size).toBe(4);
    await poll(() => page.getByTestId("canvas-empty").count()).toBe(0);
    await screenshot(page, "canvas-03-dropped");

    // Connect the ports with the mouse.
    await wire(trigger, "next", wait);
    await poll(edgeCount).toBe(1);
    await wire(wait, "timed_out", sms);
    await wire(wait, "happened", exit);
    await wire(sms, "sent", exit);
    await wire(sms, "failed", exit);
    await poll(edgeCount).toBe(5);

    // A wire into the trigger is refused, and the canvas says why.
    await wire(sms, "sent", trigger, "card");
    await poll(() => page.getByTestId("connection-notice").textContent()).toContain("Nothing can connect into a trigger");
    expect(await edgeCount()).toBe(5);
    await screenshot(page, "canvas-04-wired-and-refused");

    // Configure each node in the inspector.
    await card(trigger).click();
    await poll(() => inspector().getAttribute("data-node-id")).toBe(trigger);
    await inspector().getByLabel("Event", { exact: true }).fill("signed_up");
    await poll(() => card(trigger).textContent()).toContain("When signed_up");

    await card(wait).click();
    await poll(() => inspector().getAttribute("data-node-id")).toBe(wait);
    await inspector().getByLabel("Event", { exact: true }).fill("order_completed");
    await inspector().getByLabel("Amount").fill("24");
    await inspector().getByLabel("Unit").selectOption("hours");
    await poll(() => card(wait).textContent()).toContain("Wait for order_completed, up to 24 hours");

    // The SMS is left without copy: publishing must refuse and point at it.
    await card(sms).click();
    await poll(() => inspector().getAttribute("data-node-id")).toBe(sms);
    await inspector().getByLabel("SMS signature (短信签名)").fill("Waypost");
    await page.getByTestId("layout").click();
    await poll(() => page.getByTestId("save-state").getAttribute("data-state")).toBe("saved");

    await page.getByTestId("publish").click();
    await poll(() => page.getByTestId("toast").textContent()).toContain("Not published: 1 problem to fix.");
    await poll(() => card(sms).getAttribute("class")).toContain("has-errors");
    expect(await page.getByTestId(`node-problems-${sms}`).textContent()).toContain("SMS is not configured: body");
    expect(await page.getByTestId("problems").textContent()).toContain("SMS is not configured: body");
    expect(await page.getByTestId("journey-status").textContent()).toBe("Draft");
    await screenshot(page, "canvas-05-publish-refused");

    // Clicking the problem opens its node; writing the copy fixes it, with a live preview.
    await page.getByTestId("problem").first().click();
    await poll(() => inspector().getAttribute("data-node-id")).toBe(sms);
    await inspector()
      .getByLabel("Text", { exact: true })
      .fill('{{ user.name | default: "新朋友" }}，送你一个新人红包🧧，下单立减 ¥15，打开 App 领取：https://wp.example/app/hongbao 回TD退订');
    await poll(() => page.getByTestId("message-preview").textContent()).toContain("王小明，送你一个新人红包");
    expect(await page.getByTestId("counter-body").textContent()).toMatch(/Text: \d+ \/ 500 characters · 2 SMS parts/);
    await poll(() => page.getByTestId("problem-count").textContent()).toContain("No problems");
    await poll(() => card(sms).getAttribute("class")).not.toContain("has-errors");
    await screenshot(page, "canvas-06-sms-configured");

    await page.getByTestId("publish").click();
    await poll(() => page.getByTestId("toast").textContent()).toContain("Published version 1");
    expect(await page.getByTestId("journey-status").textContent()).toBe("Live");
    await poll(() => page.getByTestId("readonly-banner").isVisible()).toBe(true);
    expect(await page.getByTestId("edit").isVisible()).toBe(true);
    await screenshot(page, "canvas-07-published");

    // Test run: a user signs up and never orders, so after 24 h the SMS goes out.
    await page.getByTestId("tab-test").click();
    await poll(() => page.getByTestId("timeline-row-0").locator("input").nth(1).inputValue()).toBe("signed_up");
    // The test run applies the workspace's sending policies: start at 10:00 in Shanghai (the
    // browser runs in UTC) so the SMS 24 h later falls outside the default quiet hours.
    await page.getByTestId("testrun-start").fill("2026-12-01T02:00");
    await page.getByTestId("testrun-run").click();
    const results = page.getByTestId("testrun-results");
    await poll(() => results.isVisible()).toBe(true);
    const steps = await page.getByTestId("testrun-steps").textContent();
    expect(steps).toContain("Timed out");
    expect(steps).not.toContain("Happened");
    const messages = await page.getByTestId("testrun-messages").textContent();
    expect(messages).toContain("SMS");
    expect(messages).toContain("小王，送你一个新人红包🧧");
    expect(messages).toContain("+24 h 0 min");
    expect(await card(sms).getAttribute("class")).toContain("on-path");
    expect(await page.locator(`.react-flow__edge.on-path`).count()).toBe(3);
    await screenshot(page, "canvas-08-test-run");

    // Signed up at 21:30 in Shanghai: the SMS 24 h later falls in quiet hours (21:00–08:00) and is
    // held until 08:00, as the engine would hold it.
    await page.getByTestId("testrun-start").fill("2026-12-01T13:30");
    await page.getByTestId("testrun-run").click();
    await poll(() => page.getByTestId("testrun-messages").textContent()).toContain("held until");
    const held = (await page.getByTestId("testrun-messages").textContent())!;
    expect(held).toContain("quiet hours");
    expect(held).toMatch(/08:00/);
    expect(held).toContain("sent");
    await screenshot(page, "canvas-08b-test-run-quiet-hours");

    // Without SMS consent (SMS marketing is opt-in by default) the SMS fails, with the reason.
    await page.getByTestId("testrun-start").fill("2026-12-01T02:00");
    await page.getByTestId("testrun-consent-sms").uncheck();
    await page.getByTestId("testrun-run").click();
    await poll(() => page.getByTestId("testrun-messages").textContent()).toContain("no consent for this channel");
    expect(await page.getByTestId("testrun-messages").textContent()).toContain("failed");
    await screenshot(page, "canvas-08c-test-run-no-consent");
    await page.getByTestId("testrun-consent-sms").check();

    // Everything is still there after a reload, and on the server.
    await page.reload();
    await page.waitForSelector(".react-flow__node");
    expect(await page.locator(".react-flow__node").count()).toBe(4);
    expect(await edgeCount()).toBe(5);
    expect(await page.getByTestId("journey-status").textContent()).toBe("Live");
    expect(await card(trigger).textContent()).toContain("When signed_up");
    expect(await card(sms).textContent()).toContain("SMS · ");
    await screenshot(page, "canvas-09-reloaded");

    const stored = await getJourney(app.services.db, app.workspaceId, journeyId);
    expect(stored.status).toBe("live");
    expect(stored.liveVersion?.version).toBe(1);
    expect(stored.draft).toBeNull();
    const doc = stored.liveVersion!.document;
    expect(doc.nodes.map((n) => n.type).sort()).toEqual(["core.exit", "core.sms", "core.trigger", "core.wait-for-event"]);
    expect(doc.edges.map((e) => `${e.source}.${e.sourcePort}->${e.target}`).sort()).toEqual(
      [`${sms}.failed->${exit}`, `${sms}.sent->${exit}`, `${trigger}.next->${wait}`, `${wait}.happened->${exit}`, `${wait}.timed_out->${sms}`].sort(),
    );
    expect(doc.nodes.find((n) => n.id === wait)!.config).toEqual({ event: "order_completed", filters: [], timeout: { amount: 24, unit: "hours" } });
  });
});
