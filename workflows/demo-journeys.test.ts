import { describe, expect, it } from "vitest";
import { compileJourney } from "./program";
import { demoCardHeight, demoJourneys, demoLayoutBoxes, winBackJourney } from "./demo-journeys";

describe("demo journeys as seeded", () => {
  it("lay out their cards without overlaps at the size a card with analytics takes", () => {
    for (const document of demoJourneys()) {
      const boxes = demoLayoutBoxes(document);
      for (const a of boxes) {
        for (const b of boxes) {
          if (a.id >= b.id) continue;
          const overlap = a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
          expect(overlap, `${document.name}: ${a.id} overlaps ${b.id}`).toBe(false);
        }
      }
    }
  });

  it("reserve at least the heights measured in Chromium on the demo's first start", () => {
    // test/e2e/demo-first-start.e2e.test.ts prints these (zoom 1, 1,000 demo users): a push card
    // with its funnel and failure reasons 243 px, SMS 227, email 211, wait for event and split 161.
    expect(demoCardHeight("core.push")).toBeGreaterThanOrEqual(243);
    expect(demoCardHeight("core.sms")).toBeGreaterThanOrEqual(227);
    expect(demoCardHeight("core.email")).toBeGreaterThanOrEqual(211);
    expect(demoCardHeight("core.wait-for-event")).toBeGreaterThanOrEqual(161);
    expect(demoCardHeight("core.split")).toBeGreaterThanOrEqual(161);
    expect(demoCardHeight("core.wait")).toBeGreaterThanOrEqual(132);
    expect(demoCardHeight("core.exit")).toBeGreaterThanOrEqual(102);
  });

  it("seed the win-back with a copy A/B split in front of the push; the PRODUCT.md journey stays as it is", () => {
    const [demo] = demoJourneys();
    expect(compileJourney(demo!).ok).toBe(true);
    expect(demo!.nodes.map((n) => n.id)).toEqual(expect.arrayContaining(["ab_copy", "push_winback", "push_free_shipping", "sms_fallback", "wait_order", "email_winback"]));
    const split = demo!.nodes.find((n) => n.id === "ab_copy")!;
    expect(split.type).toBe("core.split");
    expect(demo!.edges.filter((e) => e.source === "ab_copy").map((e) => [e.sourcePort, e.target])).toEqual([
      ["coupon", "push_winback"],
      ["free_shipping", "push_free_shipping"],
    ]);
    // Same name, settings (holdout, goal) and copy of the coupon push as the plain journey.
    const plain = winBackJourney();
    expect(demo!.name).toBe(plain.name);
    expect(demo!.settings).toEqual(plain.settings);
    expect(demo!.nodes.find((n) => n.id === "push_winback")!.config).toEqual(plain.nodes.find((n) => n.id === "push_winback")!.config);
    expect(plain.nodes.some((n) => n.type === "core.split")).toBe(false);
  });
});
