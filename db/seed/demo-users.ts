import { sql } from "drizzle-orm";
import type { Db } from "../client";
import { deviceTokens, events, users } from "../schema";

/**
 * Synthetic users of an e-commerce app with realistic event histories (see GLOSSARY.md's demo
 * vocabulary). Deterministic: the same seed gives the same people, so demos and screenshots agree.
 */
function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const surnames = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙", "马", "朱", "胡", "林"];
const givenNames = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "杰", "娟", "涛", "明", "超", "霞", "婷", "晨", "宇"];
const englishNames = ["Emma Li", "Oliver Chen", "Sophia Wang", "Lucas Zhang", "Mia Liu", "Ethan Huang", "Ava Zhao", "Noah Wu"];
const cities = ["上海", "北京", "深圳", "广州", "杭州", "成都", "武汉", "南京", "西安", "重庆"];
const categories = ["food", "beauty", "electronics", "apparel", "home", "travel"];
const tagPool = ["美食爱好者", "旅游人群", "国货品牌偏好", "高消费水平", "母婴", "数码达人", "价格敏感"];
// Mostly China, some abroad, and a few broken zones the engine must fall back from.
const zones = [
  ...Array(16).fill("Asia/Shanghai"),
  "Asia/Tokyo",
  "America/New_York",
  "Europe/Berlin",
  "Asia/Singapore",
  "Mars/Olympus_Mons",
  "",
];

/** The index drawn by `u` (uniform in [0, 1)) from weights that add up to 1. */
function weighted(u: number, weights: readonly number[]): number {
  let acc = 0;
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i]!;
    if (u < acc) return i;
  }
  return weights.length - 1;
}

export interface DemoSeedResult {
  users: number;
  events: number;
}

export async function seedDemoUsers(db: Db, workspaceId: string, count: number, now = new Date(), seed = 20261122): Promise<DemoSeedResult> {
  const random = mulberry32(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const day = 86_400_000;
  let eventCount = 0;
  const userRows: (typeof users.$inferInsert)[] = [];
  const eventRows: (typeof events.$inferInsert)[] = [];
  // Push tokens come from their own stream, so adding them left every user's other data as it was.
  const tokenRandom = mulberry32(seed ^ 0x70c3e5);
  const tokenRows: (typeof deviceTokens.$inferInsert)[] = [];

  const flush = async (force: boolean) => {
    if (userRows.length >= 500 || (force && userRows.length)) {
      await db.insert(users).values(userRows.splice(0)).onConflictDoNothing();
      if (tokenRows.length) await db.insert(deviceTokens).values(tokenRows.splice(0)).onConflictDoNothing();
    }
    while (eventRows.length >= 2000 || (force && eventRows.length)) {
      const chunk = eventRows.splice(0, 2000);
      await db.insert(events).values(chunk).onConflictDoNothing();
      eventCount += chunk.length;
    }
  };

  for (let i = 1; i <= count; i++) {
    const id = `demo-${String(i).padStart(5, "0")}`;
    const chinese = random() < 0.85;
    const name = chinese ? pick(surnames) + pick(givenNames) + (random() < 0.5 ? pick(givenNames) : "") : pick(englishNames);
    const signedUp = new Date(now.getTime() - Math.floor(random() * 180 + 1) * day - Math.floor(random() * day));
    // Lifecycle mix: ~25% new, ~35% active, ~20% silent, ~20% churned buyers.
    const lifecycle = random();
    const lastSeen = new Date(
      now.getTime() -
        (lifecycle < 0.6 ? Math.floor(random() * 3) : lifecycle < 0.8 ? 8 + Math.floor(random() * 20) : 31 + Math.floor(random() * 60)) * day -
        Math.floor(random() * day),
    );
    const seenFrom = signedUp.getTime();
    const seenTo = Math.max(seenFrom + 60_000, lastSeen.getTime());
    const at = () => new Date(seenFrom + Math.floor(random() * (seenTo - seenFrom)));
    // Most buyers order once or twice; a few are regulars (skewed, as real shops see it).
    const ordersCount = lifecycle < 0.25 ? (random() < 0.3 ? 1 : 0) : weighted(random(), [0.2, 0.3, 0.2, 0.1, 0.08, 0.06, 0.04, 0.02]);
    const timezone = pick(zones);
    const tags = tagPool.filter(() => random() < 0.2);
    const phone = `+861${pick(["3", "5", "8"])}${String(Math.floor(random() * 1e9)).padStart(9, "0")}`;
    const email = `${id}@example.com`;

    let seq = 0;
    const event = (eventName: string, timestamp: Date, properties: Record<string, unknown> = {}) => {
      eventRows.push({ workspaceId, messageId: `${id}-${seq++}`, userId: id, type: "track", name: eventName, properties, timestamp });
    };
    event("signed_up", signedUp, { channel: pick(["app_store", "wechat", "douyin", "organic"]) });
    const opens = 2 + Math.floor(random() * 12);
    for (let k = 0; k < opens; k++) event("app_opened", at());
    const views = 1 + Math.floor(random() * 8);
    for (let k = 0; k < views; k++) event("product_viewed", at(), { category: pick(categories), sku: `SKU-${Math.floor(random() * 900 + 100)}` });
    if (random() < 0.6) event("added_to_cart", at(), { category: pick(categories) });
    // The first order comes within a day of signing up for some (~18%), within three weeks for the
    // rest; then 5–45 days between orders, never after the user was last seen. So a sign-up
    // nudge, a second-order push and a win-back all meet the share of users they do in practice.
    const orderTimes: Date[] = [];
    let next = seenFrom + (random() < 0.18 ? 10 * 60_000 + random() * (day - 10 * 60_000) : (1 + random() * 20) * day);
    while (orderTimes.length < ordersCount && next <= seenTo) {
      orderTimes.push(new Date(Math.floor(next)));
      next += (5 + random() * 40) * day;
    }
    // Churned buyers bought before but not in the last 30 days.
    if (lifecycle >= 0.8 && orderTimes.length === 0) orderTimes.push(new Date(now.getTime() - (35 + Math.floor(random() * 40)) * day));
    let lifetimeValue = 0;
    orderTimes.forEach((time, index) => {
      const amount = Math.round((30 + random() * 470) * 100) / 100;
      lifetimeValue += amount;
      event("order_completed", time, { amount, currency: "CNY", category: pick(categories), order_count: index + 1 });
      if (random() < 0.3) event("coupon_redeemed", time, { coupon: pick(["NEW10", "BACK10", "BUNDLE20"]) });
    });
    const lastOrder = orderTimes.at(-1);
    userRows.push({
      workspaceId,
      id,
      traits: {
        name,
        email,
        phone,
        timezone,
        city: pick(cities),
        gender: pick(["female", "male", "unknown"]),
        age_range: pick(["18-24", "25-34", "35-44", "45-54"]),
        lifetime_value: Math.round(lifetimeValue * 100) / 100,
        orders_count: orderTimes.length,
        ...(lastOrder ? { last_order_at: lastOrder.toISOString(), replenish_at: new Date(lastOrder.getTime() + (20 + Math.floor(random() * 20)) * day).toISOString() } : {}),
        locale: chinese ? "zh-CN" : "en",
      },
      email,
      phone,
      timezone: timezone || null,
      tags,
      consent: {
        push: { marketing: random() < 0.9, transactional: true },
        sms: { marketing: random() < 0.7, transactional: true },
        email: { marketing: random() < 0.6, transactional: true },
      },
      firstSeenAt: signedUp,
      lastSeenAt: lastSeen,
    });
    // Most users have the app with push enabled (88%), on Android or iOS.
    if (tokenRandom() < 0.88) {
      const platform = tokenRandom() < 0.62 ? "android" : "ios";
      const token = `${platform === "ios" ? "apns" : "fcm"}-${id}-${Math.floor(tokenRandom() * 0xffffffff).toString(16).padStart(8, "0")}`;
      tokenRows.push({ workspaceId, token, userId: id, platform, createdAt: signedUp, lastSeenAt: lastSeen });
    }
    await flush(false);
  }
  await flush(true);
  return { users: count, events: eventCount };
}

export async function hasDemoUsers(db: Db, workspaceId: string): Promise<boolean> {
  const rows = await db
    .select({ one: sql<number>`1` })
    .from(users)
    .where(sql`${users.workspaceId} = ${workspaceId} and ${users.id} like 'demo-%'`)
    .limit(1);
  return rows.length > 0;
}
