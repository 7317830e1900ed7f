/**
 * Getui RestAPI v2 on the wire: token auth, single push to a client id, today's push count,
 * receipt callbacks, and the mapping of Getui's answers onto Waypost's outcomes.
 *
 * From docs.getui.com/getui/server/rest_v2 (token, push, common_args, code, report) and the
 * receipt page (docs.getui.com/getui/server/receipt). Where the pages were unclear, what we
 * assumed (the loopback fake in test/fake-getui.ts assumes the same):
 * - a repeated `request_id` is not pushed twice ("如果request_id重复,会导致消息丢失" read as
 *   de-duplication), so we derive it from Waypost's idempotency key and declare idempotency
 *   `native`; a retry after a timeout cannot reach the user twice;
 * - `/report/push/count` answers `data: { <appId>: { <vendor>: { total_num, remain_num, push_num?,
 *   limit } } }` (the SDKs type it as a map of maps of PushCountDTO; vendors without a daily limit,
 *   such as Huawei, are absent);
 * - receipt `code` "200" is delivered, "400" (APNs refused) and "402" (inactive) not delivered,
 *   "401" (no such user) an invalid client id; `recvtime`, when present, is a ms timestamp;
 * - a wrong auth sign is answered like other bad parameters (HTTP 400, code 20001).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { failure, type OutboundMessage, type ProviderFetch, type ProviderOutcome, type ProviderReceipt, type QuotaReading } from "waypost/extension";

export interface GetuiSettings {
  appId: string;
  appKey: string;
  masterSecret: string;
  baseUrl: string;
  messageType: "notification" | "transmission";
  strategy: Record<string, number>;
  vendors: string[];
  quotaVendors?: string[];
  ttlMs: number;
  xiaomiChannelId?: string;
}

interface GetuiAnswer {
  code: number;
  msg?: string;
  data?: unknown;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const md5 = (text: string) => createHash("md5").update(text).digest("hex");

/** Getui wants 10–32 characters; the same key always gives the same id (de-duplication). */
export function requestIdFor(idempotencyKey: string): string {
  return sha256(idempotencyKey).slice(0, 32);
}

/** sign = sha256(appkey + timestamp + mastersecret), lower-case hex. */
export function authSign(appKey: string, timestamp: string, masterSecret: string): string {
  return sha256(`${appKey}${timestamp}${masterSecret}`);
}

/**
 * One token per provider instance, shared by concurrent sends: fetched on first use, renewed
 * five minutes before expire_time, and dropped when a call answers 10001 (passive refresh, as
 * Getui recommends; auth is limited to 100 calls a minute).
 */
export class TokenCache {
  private token: { value: string; expiresAt: number } | null = null;
  private pending: Promise<string> | null = null;
  authCalls = 0;

  constructor(
    private readonly settings: GetuiSettings,
    private readonly fetch: ProviderFetch,
    private readonly now: () => number,
  ) {}

  async get(): Promise<string> {
    if (this.token && this.token.expiresAt - 300_000 > this.now()) return this.token.value;
    this.pending ??= this.fetchToken().finally(() => (this.pending = null));
    return this.pending;
  }

  invalidate(token: string): void {
    if (this.token?.value === token) this.token = null;
  }

  private async fetchToken(): Promise<string> {
    this.authCalls++;
    const timestamp = String(Date.now());
    const response = await this.fetch(`${this.settings.baseUrl}/${this.settings.appId}/auth`, {
      method: "POST",
      headers: { "content-type": "application/json;charset=utf-8" },
      body: JSON.stringify({ sign: authSign(this.settings.appKey, timestamp, this.settings.masterSecret), timestamp, appkey: this.settings.appKey }),
    });
    const answer = await readAnswer(response);
    const data = answer.data as { token?: unknown; expire_time?: unknown } | undefined;
    if (answer.code !== 0 || typeof data?.token !== "string") throw new GetuiError(response.status, answer.code, `auth: ${answer.msg ?? "no token"}`);
    const expiresAt = Number(data.expire_time);
    this.token = { value: data.token, expiresAt: Number.isFinite(expiresAt) ? expiresAt : this.now() + 3_600_000 };
    return data.token;
  }
}

export class GetuiError extends Error {
  constructor(
    readonly http: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "GetuiError";
  }
}

async function readAnswer(response: { status: number; text(): Promise<string> }): Promise<GetuiAnswer> {
  const text = await response.text();
  try {
    const parsed = JSON.parse(text) as GetuiAnswer;
    if (typeof parsed.code === "number") return parsed;
  } catch {
    // fall through: not Getui's JSON (a proxy's error page)
  }
  return { code: response.status >= 500 ? -500 : -1, msg: `HTTP ${response.status}: ${text.slice(0, 120)}` };
}

/**
 * A call with the token header; a 10001 answer drops the token and tries once more with a new
 * one (the token expired or was revoked early).
 */
export async function call(tokens: TokenCache, settings: GetuiSettings, fetch: ProviderFetch, method: "GET" | "POST", path: string, body?: unknown) {
  for (let attempt = 1; ; attempt++) {
    const token = await tokens.get();
    const response = await fetch(`${settings.baseUrl}/${settings.appId}${path}`, {
      method,
      headers: { token, ...(body === undefined ? {} : { "content-type": "application/json;charset=utf-8" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const answer = await readAnswer(response);
    if (answer.code === 10001 && attempt === 1) {
      tokens.invalidate(token);
      continue;
    }
    return { http: response.status, answer };
  }
}

/** Where a tap leads: a web page (url), an Android intent, or the app with a payload. */
function clickOf(message: OutboundMessage, payload: string): Record<string, string> {
  const link = message.content.deepLink;
  if (link && /^https?:\/\//.test(link)) return { click_type: "url", url: link };
  if (link?.startsWith("intent:")) return { click_type: "intent", intent: link };
  if (link || message.content.data) return { click_type: "payload", payload };
  return { click_type: "startapp" };
}

/**
 * The /push/single/cid body. `notification`: Getui shows it; `transmission`: the app receives
 * the payload and decides (online), while vendor channels still show the title and body offline.
 * `push_channel` carries the vendor-channel copy for the device's platform; `settings.strategy`
 * says which channel Getui tries first (1 Getui online then vendor, 2 vendor only, 3 Getui only,
 * 4 vendor first).
 */
export function pushBody(message: OutboundMessage, settings: GetuiSettings): Record<string, unknown> {
  const title = message.content.title ?? "";
  const body = message.content.body ?? "";
  const payload = JSON.stringify({
    wp_mid: message.messageId,
    ...(message.content.deepLink ? { deep_link: message.content.deepLink } : {}),
    ...(message.content.data ?? {}),
    ...(settings.messageType === "transmission" ? { title, body } : {}),
  });
  const click = clickOf(message, payload);
  const android = {
    ups: {
      notification: { title, body, ...click },
      ...(settings.xiaomiChannelId ? { options: { XM: { "/extra.channel_id": settings.xiaomiChannelId } } } : {}),
    },
  };
  const ios = {
    type: "notify",
    payload,
    aps: { alert: { title, body }, "content-available": 0, ...(message.category === "transactional" ? { sound: "default" } : {}) },
    auto_badge: "+1",
  };
  return {
    request_id: requestIdFor(message.idempotencyKey),
    settings: { ttl: settings.ttlMs, strategy: settings.strategy },
    audience: { cid: [message.to] },
    push_message: settings.messageType === "transmission" ? { transmission: payload } : { notification: { title, body, ...click } },
    push_channel: message.platform === "ios" ? { ios } : { android },
  };
}

/** Getui's answer to a push → our outcome. */
export function pushOutcome(http: number, answer: GetuiAnswer, cid: string): ProviderOutcome {
  if (answer.code === 0) {
    const tasks = (answer.data ?? {}) as Record<string, Record<string, string>>;
    const [taskId, statuses] = Object.entries(tasks)[0] ?? [];
    const status = statuses?.[cid];
    if (!taskId || !status) return failure("provider_unavailable", { retryable: true, providerCode: "0", detail: "success without a task id" });
    if (status === "successed_online" || status === "successed_offline") return { ok: true, providerMessageId: taskId, state: "sent" };
    // Idle for 90 days: Getui drops it. Most likely uninstalled, but the user may come back, so the
    // client id is not retired.
    if (status === "successed_ignore") return failure("invalid_token", { providerCode: status, detail: "client id inactive for 90 days: Getui did not push" });
    return failure("provider_rejected", { providerCode: status });
  }
  return errorOutcome(http, answer);
}

/** Getui error codes (docs: 返回码说明) → our failure reasons. */
export function errorOutcome(http: number, answer: GetuiAnswer): ProviderOutcome {
  const code = String(answer.code);
  const detail = answer.msg;
  const msg = (answer.msg ?? "").toLowerCase();
  switch (answer.code) {
    case 10001:
      return failure("provider_unavailable", { retryable: true, providerCode: code, detail: `${detail} (after a fresh token)` });
    case 10002:
      return failure("provider_rejected", { providerCode: code, detail: "appId or server IP blacklisted" });
    case 10003:
    case 10005:
      return failure("rate_limited", { retryable: true, retryAfterMs: 60_000, providerCode: code, detail });
    case 20001:
      if (msg.includes("target user is invalid")) return failure("invalid_token", { providerCode: code, detail, retireAddress: true });
      if (msg.includes("size over limit") || msg.includes("maxlength")) return failure("too_long", { providerCode: code, detail });
      return failure("provider_rejected", { providerCode: code, detail });
    case 2:
    case -500:
      return failure("provider_unavailable", { retryable: true, providerCode: code, detail });
  }
  if (http === 403) return failure("quota_exceeded", { providerCode: code, detail });
  if (http === 429) return failure("rate_limited", { retryable: true, retryAfterMs: 60_000, providerCode: code, detail });
  if (http >= 500) return failure("provider_unavailable", { retryable: true, providerCode: code, detail });
  return failure("provider_rejected", { providerCode: code, detail });
}

/** A request that did not get an answer: timeouts may have reached Getui (safe: request_id de-duplicates). */
export function networkOutcome(error: unknown): ProviderOutcome {
  const e = error as { name?: string; code?: string; message?: string };
  if (e?.code === "outbound_refused" || e?.name === "OutboundRefusedError") {
    return failure("provider_rejected", { providerCode: "destination_refused", detail: e.message });
  }
  if (e?.name === "TimeoutError" || e?.name === "AbortError" || e?.name === "OutboundLimitError") {
    return failure("timeout", { retryable: true, maybeDelivered: true, detail: e.message });
  }
  if (error instanceof GetuiError) return errorOutcome(error.http, { code: error.code, msg: error.message });
  return failure("provider_unavailable", { retryable: true, maybeDelivered: true, detail: e?.message ?? String(error) });
}

/** /report/push/count → one reading: limited when any watched vendor is; remaining the smallest. */
export function quotaReading(answer: GetuiAnswer, watch: string[]): QuotaReading {
  if (answer.code !== 0) throw new GetuiError(0, answer.code, `push count: ${answer.msg ?? ""}`);
  const perVendor: Record<string, { total_num?: unknown; remain_num?: unknown; limit?: unknown }> = {};
  for (const byVendor of Object.values((answer.data ?? {}) as Record<string, Record<string, unknown>>)) {
    for (const [vendor, entry] of Object.entries(byVendor ?? {})) perVendor[vendor] = entry as (typeof perVendor)[string];
  }
  let remaining: number | null = null;
  let limited = false;
  for (const vendor of watch) {
    const entry = perVendor[vendor];
    if (!entry) continue; // not limited by Getui today (Huawei, or not reported)
    if (entry.limit === true) limited = true;
    const left = Number(entry.remain_num);
    if (Number.isFinite(left)) remaining = remaining === null ? left : Math.min(remaining, left);
  }
  return { remaining, limited, detail: perVendor };
}

interface ReceiptLine {
  appid?: unknown;
  cid?: unknown;
  taskid?: unknown;
  msgid?: unknown;
  code?: unknown;
  desc?: unknown;
  sign?: unknown;
  recvtime?: unknown;
}

/**
 * The receipt callback: one JSON object per line, each signed md5(appid + cid + taskid + msgid +
 * masterSecret). Lines of another app or with a wrong sign are dropped (counted in `refused`).
 */
export function parseReceipts(body: string, settings: Pick<GetuiSettings, "appId" | "masterSecret">): { receipts: ProviderReceipt[]; refused: number } {
  const receipts: ProviderReceipt[] = [];
  let refused = 0;
  for (const line of body.split(/\r?\n/)) {
    if (!line.trim()) continue;
    let r: ReceiptLine;
    try {
      r = JSON.parse(line) as ReceiptLine;
    } catch {
      refused++;
      continue;
    }
    const [appid, cid, taskid, msgid] = [r.appid, r.cid, r.taskid, r.msgid].map((v) => (typeof v === "string" ? v : ""));
    const expected = Buffer.from(md5(`${appid}${cid}${taskid}${msgid}${settings.masterSecret}`));
    const given = Buffer.from(typeof r.sign === "string" ? r.sign.toLowerCase() : "");
    if (appid !== settings.appId || !cid || !taskid || expected.length !== given.length || !timingSafeEqual(expected, given)) {
      refused++;
      continue;
    }
    const code = String(r.code);
    const at = Number(r.recvtime);
    const common = { providerMessageId: taskid, address: cid, providerCode: code, ...(Number.isFinite(at) && at > 0 ? { at: new Date(at) } : {}) };
    if (code === "200") receipts.push({ ...common, state: "delivered" });
    else if (code === "401") receipts.push({ ...common, state: "failed", reason: "invalid_token", detail: String(r.desc ?? "no such user") });
    else receipts.push({ ...common, state: "failed", reason: "not_delivered", detail: String(r.desc ?? code) });
  }
  return { receipts, refused };
}
