import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJourney, getJourney } from "../../app/lib/journeys.server";
import { buildJourney } from "../../workflows/builder";
import { startTestApp, type TestApp } from "../support/app";
import { launchBrowser, screenshot } from "../support/browser";

const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

// Publish checks in the editor: an SMS whose copy is over the channel's limit is a problem in
// the header count and the problems panel (not "No problems" beside the inspector's warning), it
// names its node and states the limit, a click takes the operator to the node, and publish is
// refused. A push title that will be cut is a warning that does not stop the publish.

describe("publish checks in the editor", () => {
  let app: TestApp;
  let browser: Browser;
  let page: Page;
  let journeyId: string;

  beforeAll(async () => {
    app = await startTestApp({ serve: true });
    const marketer = await app.addOperator("marketer");
    const document = buildJourney({
      name: "超长短信 · Long SMS",
      settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] },
      nodes: [
        { id: "trigger", type: "core.trigger", config: { source: "api" } },
        { id: "sms", type: "core.sms", label: "Coupon SMS", config: { body: `【Waypost】${"优惠".repeat(300)} 回TD退订` } },
        { id: "exit", type: "core.exit", config: {} },
      ],
      edges: [
        ["trigger", "next", "sms"],
        ["sms", "sent", "exit"],
        ["sms", "failed", "exit"],
      ],
    });
    journeyId = (await createJourney(app.services.db, { workspaceId: app.workspaceId }, { name: document.name, document })).id;
    browser = await launchBrowser();
    page = await browser.newPage({ locale: "en-US", viewport: { width: 1280, height: 800 } });
    await page.goto(`${app.url}/login?next=/journeys/${journeyId}`);
    await page.getByLabel("Email").fill(marketer.email);
    await page.getByLabel("Password").fill(marketer.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(new RegExp(`/journeys/${journeyId}$`));
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it("names the over-length SMS, states the limit, focuses the node and refuses the publish", async () => {
    await poll(() => page.getByTestId("problem-count").textContent()).toContain("1 problem");
    // Until the page has hydrated a click can be lost: click until the panel is open.
    await poll(async () => {
      if (!(await page.getByTestId("problems").isVisible())) await page.getByTestId("problem-count").click();
      return page.getByTestId("problems").isVisible();
    }).toBe(true);
    const problem = page.getByTestId("problem");
    await poll(() => problem.textContent()).toContain("Coupon SMS");
    const text = (await problem.textContent())!;
    expect(text).toMatch(/The body is 6\d\d characters/);
    expect(text).toContain("at most 500");
    await screenshot(page, "publish-checks-01-problem");

    await problem.click();
    await poll(() => page.getByTestId("inspector").getAttribute("data-node-id")).toBe("sms");

    await page.getByTestId("publish").click();
    await poll(() => page.getByTestId("toast").textContent()).toContain("Not published");
    expect((await getJourney(app.services.db, app.workspaceId, journeyId)).status).toBe("draft");
    await screenshot(page, "publish-checks-02-refused");
  });
});
