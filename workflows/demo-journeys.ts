import type { JourneyDocumentInput } from "./document";
import { buildJourney } from "./builder";

/**
 * The four journeys of PRODUCT.md, as seeded for a new workspace. Node ids are stable so
 * scenario tests and docs can refer to them.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Canvas layout of the demo journeys: cards in columns 320 px apart (a card is 240 px wide) and
 * rows as tall as their tallest card. On a published journey a card carries its analytics
 * (entered, waiting, exits by reason, message funnel, failure reasons, per-output counts): a
 * message card is up to ~245 px tall, a wait or split ~160, a trigger or plain wait ~130, an Exit
 * ~100 (measured in Chromium on the demo's first start). Decision 0853; `demoLayoutBoxes` is what
 * the layout test checks for overlaps.
 */
export const DEMO_LAYOUT = { column: 320, gap: 56 } as const;

/** The height reserved for a card of this node type on the demo canvases. */
export function demoCardHeight(type: string): number {
  if (type === "core.push" || type === "core.sms" || type === "core.email" || type === "core.webhook") return 260;
  if (type === "core.wait-for-event" || type === "core.split" || type === "core.condition") return 180;
  if (type === "core.exit") return 120;
  return 150;
}

/**
 * Puts each node at (column, row): x = column × 320, y = the rows above with their tallest card
 * and a gap. Every node must be named.
 */
function place(document: JourneyDocumentInput, cells: Record<string, [column: number, row: number]>): JourneyDocumentInput {
  const rowHeight = new Map<number, number>();
  for (const n of document.nodes) {
    const cell = cells[n.id];
    if (!cell) throw new Error(`demo layout: no place for node ${n.id} of "${document.name}"`);
    rowHeight.set(cell[1], Math.max(rowHeight.get(cell[1]) ?? 0, demoCardHeight(n.type)));
  }
  const top = (row: number) => {
    let y = 0;
    for (let r = 0; r < row; r++) y += (rowHeight.get(r) ?? 0) + DEMO_LAYOUT.gap;
    return y;
  };
  return {
    ...document,
    nodes: document.nodes.map((n) => {
      const [column, row] = cells[n.id]!;
      return { ...n, position: { x: Math.round(column * DEMO_LAYOUT.column), y: top(row) } };
    }),
  };
}

/** The boxes the demo layout reserves for each card of a document (for the overlap test). */
export function demoLayoutBoxes(document: JourneyDocumentInput): Array<{ id: string; x: number; y: number; width: number; height: number }> {
  return document.nodes.map((n) => ({ id: n.id, x: n.position.x, y: n.position.y, width: 240, height: demoCardHeight(n.type) }));
}

const winBackPush = {
  title: "我们想你了 · We miss you",
  body: '{{ user.name | default: "朋友" }}，送你一张 ¥10 优惠券，7 天内有效。A ¥10 coupon is waiting for you.',
  deepLink: "waypost://coupons/winback10",
  category: "marketing",
  quietHours: "defer",
  deliveryTimeoutMs: 2 * HOUR,
} as const;

/**
 * PRODUCT.md journey 1. With `abTest`, as the demo seeds it: the push copy is an A/B test (50%
 * get the ¥10 coupon, 50% free shipping, 包邮), so the report has a split to compare; the scenario
 * tests and benchmarks use the journey exactly as PRODUCT.md states it (decision 0852).
 */
export function winBackJourney(options: { abTest?: boolean } = {}): JourneyDocumentInput {
  if (options.abTest) return winBackAbJourney();
  return buildJourney({
    name: "流失召回 · Lapsed-buyer win-back",
    settings: {
      entry: { rule: "cooldown", cooldownMs: 30 * DAY },
      holdoutPercent: 10,
      goal: { event: "order_completed", filters: [], windowMs: 7 * DAY },
      exitEvents: [],
    },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "segment_entry", segment: "churned_buyers" }, label: "进入人群：流失买家 · Enters churned buyers" },
      // 11:00 and 17:00 convert best; both are outside quiet hours, and the push defers anyway.
      { id: "send_time", type: "core.wait", config: { mode: "time_of_day", times: ["11:00", "17:00"], weekdays: [] } },
      { id: "push_winback", type: "core.push", config: winBackPush },
      {
        id: "sms_fallback",
        type: "core.sms",
        label: "短信补量 · SMS top-up",
        config: {
          body: '【Waypost】{{ user.name | default: "朋友" }}，我们想你了！¥10 优惠券已到账，7 天内有效：https://wp.example/c/winback10 回TD退订',
          signName: "Waypost",
          category: "marketing",
          quietHours: "defer",
        },
      },
      { id: "wait_order", type: "core.wait-for-event", config: { event: "order_completed", filters: [], timeout: { amount: 2, unit: "days" } } },
      { id: "wait_3d", type: "core.wait", config: { mode: "duration", duration: { amount: 3, unit: "days" } } },
      {
        id: "email_winback",
        type: "core.email",
        config: {
          subject: '{{ user.name | default: "朋友" }}，你的 ¥10 优惠券还在 · Your ¥10 coupon is still here',
          html: '<p>{{ user.name | default: "朋友" }}，好久不见！</p><p>你的 ¥10 优惠券还有两天到期。<a href="https://wp.example/c/winback10">立即使用 · Use it now</a></p>',
          category: "marketing",
        },
      },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "send_time"],
      ["send_time", "next", "push_winback"],
      ["push_winback", "sent", "wait_order"],
      ["push_winback", "failed", "sms_fallback"],
      ["sms_fallback", "sent", "wait_order"],
      ["sms_fallback", "failed", "wait_order"],
      ["wait_order", "happened", "exit"],
      ["wait_order", "timed_out", "wait_3d"],
      ["wait_3d", "next", "email_winback"],
      ["email_winback", "sent", "exit"],
      ["email_winback", "failed", "exit"],
    ],
  });
}

function winBackAbJourney(): JourneyDocumentInput {
  const base = winBackJourney();
  const freeShipping = {
    ...winBackPush,
    body: '{{ user.name | default: "朋友" }}，本周回来下单全场包邮，7 天内有效。Free shipping on your next order this week.',
    deepLink: "waypost://promo/freeship",
  };
  const document = buildJourney({
    name: base.name,
    settings: base.settings,
    nodes: [
      ...base.nodes.filter((n) => n.id !== "push_winback").map((n) => ({ id: n.id, type: n.type, config: n.config, ...(n.label ? { label: n.label } : {}) })),
      {
        id: "ab_copy",
        type: "core.split",
        label: "文案 A/B 测试 · Copy A/B test",
        config: {
          branches: [
            { id: "coupon", label: "A · 优惠券 Coupon", percent: 50 },
            { id: "free_shipping", label: "B · 包邮 Free ship", percent: 50 },
          ],
        },
      },
      { id: "push_winback", type: "core.push", label: "A · 优惠券 · Coupon", config: winBackPush },
      { id: "push_free_shipping", type: "core.push", label: "B · 包邮 · Free ship", config: freeShipping },
    ],
    edges: [
      ["trigger", "next", "send_time"],
      ["send_time", "next", "ab_copy"],
      ["ab_copy", "coupon", "push_winback"],
      ["ab_copy", "free_shipping", "push_free_shipping"],
      ["push_winback", "sent", "wait_order"],
      ["push_winback", "failed", "sms_fallback"],
      ["push_free_shipping", "sent", "wait_order"],
      ["push_free_shipping", "failed", "sms_fallback"],
      ["sms_fallback", "sent", "wait_order"],
      ["sms_fallback", "failed", "wait_order"],
      ["wait_order", "happened", "exit"],
      ["wait_order", "timed_out", "wait_3d"],
      ["wait_3d", "next", "email_winback"],
      ["email_winback", "sent", "exit"],
      ["email_winback", "failed", "exit"],
    ],
  });
  return place(document, {
    trigger: [1, 0],
    send_time: [1, 1],
    ab_copy: [1, 2],
    push_winback: [0, 3],
    push_free_shipping: [2, 3],
    // Off to the side, so the pushes' "sent" edges to the wait pass no card.
    sms_fallback: [3, 4],
    wait_order: [1, 5],
    wait_3d: [2, 6],
    email_winback: [2, 7],
    exit: [1, 8],
  });
}

export function registeredNoOrderJourney(): JourneyDocumentInput {
  return buildJourney({
    name: "注册未下单 · Registered, no order in 24 h",
    settings: {
      entry: { rule: "once" },
      holdoutPercent: 0,
      goal: { event: "order_completed", filters: [], windowMs: 7 * DAY },
      exitEvents: [],
    },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "event", event: "signed_up", filters: [] } },
      { id: "wait_order", type: "core.wait-for-event", config: { event: "order_completed", filters: [], timeout: { amount: 24, unit: "hours" } } },
      {
        id: "sms_hongbao",
        type: "core.sms",
        config: {
          body: '【Waypost】{{ user.name | default: "新朋友" }}，送你一个新人红包🧧，下单立减 ¥15，打开 App 领取：https://wp.example/app/hongbao 回TD退订',
          signName: "Waypost",
          category: "marketing",
          quietHours: "defer",
        },
      },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "wait_order"],
      ["wait_order", "happened", "exit"],
      ["wait_order", "timed_out", "sms_hongbao"],
      ["sms_hongbao", "sent", "exit"],
      ["sms_hongbao", "failed", "exit"],
    ],
  });
}

export function firstOrderJourney(): JourneyDocumentInput {
  return buildJourney({
    name: "首单复购 · After the first order",
    settings: {
      entry: { rule: "once" },
      holdoutPercent: 0,
      // A second order ends the journey: no replenishment reminder after they already restocked.
      goal: { event: "order_completed", filters: [{ property: "order_count", op: "gte", value: 2 }], windowMs: 60 * DAY },
      exitEvents: [],
    },
    nodes: [
      {
        id: "trigger",
        type: "core.trigger",
        config: { source: "event", event: "order_completed", filters: [{ property: "order_count", op: "eq", value: 1 }] },
      },
      { id: "wait_24h", type: "core.wait", config: { mode: "duration", duration: { amount: 24, unit: "hours" } } },
      {
        id: "push_bundle",
        type: "core.push",
        config: {
          title: "首单感谢 · Thanks for your first order",
          body: '{{ user.name | default: "朋友" }}，组合券已到账：满 99 减 20。A bundle coupon for you: ¥20 off ¥99.',
          deepLink: "waypost://coupons/bundle20",
          category: "marketing",
          quietHours: "defer",
        },
      },
      { id: "wait_replenish", type: "core.wait", config: { mode: "date_trait", trait: "replenish_at", offsetDays: -3, time: "10:00" } },
      {
        id: "push_reminder",
        type: "core.push",
        config: {
          title: "该补货啦 · Time to restock",
          body: '{{ user.name | default: "朋友" }}，你常买的商品快用完了吧？现在下单次日达。Running low? Order now for next-day delivery.',
          deepLink: "waypost://reorder",
          category: "marketing",
          quietHours: "defer",
        },
      },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "wait_24h"],
      ["wait_24h", "next", "push_bundle"],
      ["push_bundle", "sent", "wait_replenish"],
      ["push_bundle", "failed", "wait_replenish"],
      ["wait_replenish", "next", "push_reminder"],
      ["push_reminder", "sent", "exit"],
      ["push_reminder", "failed", "exit"],
    ],
  });
}

export function fareNoticeJourney(): JourneyDocumentInput {
  return buildJourney({
    name: "扣费通知 · Fare deducted notice",
    settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "event", event: "ride_completed", filters: [] } },
      {
        id: "push_fare",
        type: "core.push",
        config: {
          title: "扣费通知 · Fare deducted",
          body: '本次乘车 {{ event.properties.from_station }} → {{ event.properties.to_station }}，扣费 ¥{{ event.properties.fare | default: "0" }}。Fare ¥{{ event.properties.fare | default: "0" }} deducted.',
          category: "transactional",
        },
      },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "push_fare"],
      ["push_fare", "sent", "exit"],
      ["push_fare", "failed", "exit"],
    ],
  });
}

/** All four as the demo seeds them, in PRODUCT.md order, laid out on the demo grid. */
export function demoJourneys(): JourneyDocumentInput[] {
  return [
    winBackJourney({ abTest: true }),
    place(registeredNoOrderJourney(), { trigger: [1, 0], wait_order: [1, 1], sms_hongbao: [2, 2], exit: [1, 3] }),
    place(firstOrderJourney(), { trigger: [0, 0], wait_24h: [0, 1], push_bundle: [0, 2], wait_replenish: [0, 3], push_reminder: [0, 4], exit: [0, 5] }),
    place(fareNoticeJourney(), { trigger: [0, 0], push_fare: [0, 1], exit: [0, 2] }),
  ];
}
