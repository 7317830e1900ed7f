import { hash32 } from "../../workflows/hash";

/**
 * How the demo users behave while the demo history is replayed (db/seed/demo-history.server.ts):
 * what the sandbox providers answer for their addresses, whether a delivered message is opened,
 * clicked or followed by an order, when a buyer becomes "churned", when a rider rides. Pure: the
 * same keys give the same answer (hashes, never Math.random), so tests pin the rates down. Keys
 * include message and journey ids, which are new on every first start: two demos tell the same
 * story with slightly different numbers. Rates: docs/decisions/0851-demo-behaviour-model.md.
 */

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** A uniform number in [0, 1) from stable parts. */
export function uniform(...parts: Array<string | number>): number {
  return hash32("demo-history", ...parts.map(String)) / 4294967296;
}

// ------------------------------------------------------------------ providers

/**
 * What happens to one message at the provider: refused at once (`fail`), or accepted and later
 * reported delivered, undelivered or never heard of again (`receipt`).
 */
export type ProviderPlan =
  | { kind: "fail"; reason: "invalid_token" | "invalid_address" | "provider_rejected"; providerCode: string; retireAddress?: boolean }
  | { kind: "accept"; receipt: { state: "delivered"; afterMs: number } | { state: "failed"; reason: "not_delivered" | "bounced"; providerCode: string; afterMs: number } | null };

/**
 * Per address (the same token fails every time, as a real uninstalled app does) and per message
 * (a phone that is off when one SMS arrives). Rates follow PRODUCT.md's reference run of the
 * "registered, no order" SMS (897 sent, 856 delivered: ~95%).
 */
export function providerPlan(channel: "push" | "sms" | "email", address: string, messageKey: string): ProviderPlan {
  const perAddress = uniform(channel, "address", address);
  const perMessage = uniform(channel, "message", messageKey);
  const delay = (min: number, max: number) => Math.round(min + uniform(channel, "delay", messageKey) * (max - min));
  if (channel === "push") {
    // App uninstalled: FCM answers UNREGISTERED and the token is retired.
    if (perAddress < 0.07) return { kind: "fail", reason: "invalid_token", providerCode: "UNREGISTERED", retireAddress: true };
    if (perMessage < 0.04) return { kind: "accept", receipt: { state: "failed", reason: "not_delivered", providerCode: "TTL_EXPIRED", afterMs: delay(20 * MINUTE, 90 * MINUTE) } };
    // The phone is off: no receipt at all (a push with a delivery timeout falls back to SMS).
    if (perMessage < 0.07) return { kind: "accept", receipt: null };
    return { kind: "accept", receipt: { state: "delivered", afterMs: delay(2_000, 90_000) } };
  }
  if (channel === "sms") {
    if (perAddress < 0.015) return { kind: "fail", reason: "invalid_address", providerCode: "isv.MOBILE_NUMBER_ILLEGAL" };
    if (perMessage < 0.035) return { kind: "accept", receipt: { state: "failed", reason: "not_delivered", providerCode: "MK:0001", afterMs: delay(30_000, 10 * MINUTE) } };
    return { kind: "accept", receipt: { state: "delivered", afterMs: delay(3_000, 60_000) } };
  }
  if (perAddress < 0.02) return { kind: "accept", receipt: { state: "failed", reason: "bounced", providerCode: "550 5.1.1", afterMs: delay(MINUTE, 20 * MINUTE) } };
  // Email has no delivery receipt; an open proves delivery.
  return { kind: "accept", receipt: null };
}

// ------------------------------------------------------------------ engagement

/** The demo journeys by role, so the model need not know their generated ids. */
export type DemoJourneyRole = "winBack" | "registered" | "firstOrder" | "fare";

export interface Engagement {
  /** Opened (push tapped, SMS link clicked, email opened) this long after delivery. */
  openAfterMs?: number;
  clickAfterMs?: number;
  /** An order this long after delivery. */
  orderAfterMs?: number;
  /** Came back to the app (any tracked event) this long after delivery. */
  returnAfterMs?: number;
}

/** Per message node of the demo journeys: open, click and order rates once delivered. */
const rates: Record<string, { open: number; click: number; order: number; orderWithin: [number, number] }> = {
  // The copy A/B test: the coupon converts better than free shipping.
  "winBack/push_winback": { open: 0.32, click: 0.0, order: 0.18, orderWithin: [HOUR, 40 * HOUR] },
  "winBack/push_free_shipping": { open: 0.28, click: 0.0, order: 0.1, orderWithin: [HOUR, 40 * HOUR] },
  "winBack/sms_fallback": { open: 0.18, click: 0.18, order: 0.11, orderWithin: [HOUR, 40 * HOUR] },
  "winBack/email_winback": { open: 0.24, click: 0.06, order: 0.07, orderWithin: [2 * HOUR, 60 * HOUR] },
  "registered/sms_hongbao": { open: 0.2, click: 0.2, order: 0.08, orderWithin: [30 * MINUTE, 5 * DAY] },
  "firstOrder/push_bundle": { open: 0.28, click: 0.0, order: 0.1, orderWithin: [2 * HOUR, 6 * DAY] },
  "firstOrder/push_reminder": { open: 0.35, click: 0.0, order: 0.2, orderWithin: [HOUR, 4 * DAY] },
  "fare/push_fare": { open: 0.12, click: 0.0, order: 0, orderWithin: [HOUR, DAY] },
};

/**
 * What a user does after a message reached them. Evening sends (17:00–20:59 local) convert a
 * little better than morning ones, so the report's "conversion by send hour" has a best hour.
 */
export function engagementAfterDelivery(role: DemoJourneyRole, nodeId: string, userId: string, messageKey: string, localHour: number): Engagement {
  const r = rates[`${role}/${nodeId}`];
  if (!r) return {};
  const u = (what: string) => uniform("engage", what, userId, messageKey);
  const between = (what: string, [min, max]: [number, number]) => Math.round(min + u(`${what}-at`) * (max - min));
  const hourFactor = localHour >= 17 && localHour <= 20 ? 1.3 : localHour >= 9 && localHour <= 12 ? 0.9 : 1;
  const out: Engagement = {};
  if (u("open") < r.open) out.openAfterMs = between("open", [MINUTE, 3 * HOUR]);
  if (out.openAfterMs !== undefined && u("click") < r.click / r.open) out.clickAfterMs = out.openAfterMs + between("click", [5_000, 2 * MINUTE]);
  if (u("order") < r.order * hourFactor) out.orderAfterMs = between("order", r.orderWithin);
  // Back in the app within a week: most of those who opened, some who did not.
  if (u("return") < (out.openAfterMs !== undefined ? 0.8 : 0.3)) out.returnAfterMs = between("return", [10 * MINUTE, 7 * DAY]);
  return out;
}

/**
 * Buyers who would have come back anyway: the same rate for everyone who enters the win-back
 * journey, held out or not. The holdout converts at this rate; treated users at this rate plus
 * what the messages add.
 */
export function organicOrderAfterEntry(userId: string, enteredAt: number): number | null {
  if (uniform("organic", userId, enteredAt) >= 0.06) return null;
  return Math.round(HOUR + uniform("organic-at", userId, enteredAt) * (6 * DAY));
}

// ------------------------------------------------------------------ entries

/**
 * When a buyer enters `churned_buyers` (bought before, no order in 30 days) within [from, to):
 * 30 days after an order that no other order followed within those 30 days.
 */
export function churnEntries(orderTimes: readonly number[], from: number, to: number): number[] {
  const sorted = [...orderTimes].sort((a, b) => a - b);
  const out: number[] = [];
  sorted.forEach((at, i) => {
    const crossing = at + 30 * DAY;
    const next = sorted[i + 1];
    if (crossing >= from && crossing < to && (next === undefined || next > crossing)) out.push(crossing);
  });
  return out;
}

const stations = ["人民广场", "陆家嘴", "徐家汇", "静安寺", "虹桥火车站", "世纪大道", "南京东路", "中山公园", "五角场", "莘庄"];

export interface Ride {
  at: number;
  properties: { from_station: string; to_station: string; fare: number; line: string };
}

/**
 * Metro rides of the users who ride (about 1.5% of them): on working days, some mornings and
 * evenings, at local commuting hours in the given zone offset (Shanghai has no DST).
 */
export function ridesOf(userId: string, from: number, to: number, utcOffsetHours = 8): Ride[] {
  if (uniform("rider", userId) >= 0.015) return [];
  const rides: Ride[] = [];
  const home = stations[Math.floor(uniform("home", userId) * stations.length)]!;
  let work = stations[Math.floor(uniform("work", userId) * stations.length)]!;
  if (work === home) work = stations[(stations.indexOf(home) + 3) % stations.length]!;
  const fare = 3 + Math.floor(uniform("fare", userId) * 5);
  const firstDay = Math.floor((from + utcOffsetHours * HOUR) / DAY);
  const lastDay = Math.floor((to + utcOffsetHours * HOUR) / DAY);
  for (let day = firstDay; day <= lastDay; day++) {
    const weekday = new Date(day * DAY).getUTCDay();
    if (weekday === 0 || weekday === 6) continue;
    for (const [leg, hour, a, b] of [["am", 8, home, work], ["pm", 18, work, home]] as const) {
      if (uniform("ride", userId, day, leg) >= 0.3) continue;
      const at = day * DAY - utcOffsetHours * HOUR + hour * HOUR + Math.floor(uniform("ride-at", userId, day, leg) * 100 * MINUTE);
      if (at >= from && at < to) rides.push({ at, properties: { from_station: a, to_station: b, fare, line: `${1 + Math.floor(uniform("line", userId) * 17)}号线` } });
    }
  }
  return rides;
}

// ------------------------------------------------------------------ time

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The hour (0–23) at `at` in `zone`; an unknown or empty zone reads as `fallback`, as the engine does. */
export function localHour(at: number, zone: string | null | undefined, fallback = "Asia/Shanghai"): number {
  const hourIn = (z: string) => {
    let f = formatters.get(z);
    if (!f) {
      f = new Intl.DateTimeFormat("en-GB", { timeZone: z, hour: "2-digit", hourCycle: "h23" });
      formatters.set(z, f);
    }
    return Number(f.format(new Date(at)));
  };
  if (zone) {
    try {
      return hourIn(zone);
    } catch {
      // an invalid zone name falls back below
    }
  }
  return hourIn(fallback);
}

// ------------------------------------------------------------------ queue

/** A min-heap of timed items; equal times come out in insertion order. */
export class TimedQueue<T> {
  private items: Array<{ at: number; n: number; value: T }> = [];
  private counter = 0;

  get size(): number {
    return this.items.length;
  }

  push(at: number, value: T): void {
    const items = this.items;
    items.push({ at, n: this.counter++, value });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  peekAt(): number | null {
    return this.items.length ? this.items[0]!.at : null;
  }

  /** Removes and returns every item due at or before `at`, in time order. */
  popUntil(at: number): Array<{ at: number; value: T }> {
    const out: Array<{ at: number; value: T }> = [];
    while (this.items.length && this.items[0]!.at <= at) out.push(this.pop()!);
    return out;
  }

  private pop(): { at: number; value: T } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (!top || !last) return top;
    if (items.length) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.less(items[l]!, items[m]!)) m = l;
        if (r < items.length && this.less(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return { at: top.at, value: top.value };
  }

  private less(a: { at: number; n: number }, b: { at: number; n: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.n < b.n);
  }
}
