/**
 * A loopback HTTP server that speaks Getui's (个推) RestAPI v2 for wire tests of the Getui
 * provider example (extensions/getui). It verifies what the real service verifies, independently
 * of the provider's code:
 *
 * - `POST /v2/{appId}/auth`: appkey, a 13-digit millisecond timestamp within 10 minutes, and
 *   sign = sha256(appkey + timestamp + mastersecret) in lower-case hex; answers a token and its
 *   expire_time (ms, as a string).
 * - Every other call needs the `token` header of a live token; an unknown or expired one gets
 *   HTTP 401 `{"code":10001,"msg":"token错误/失效"}` (the passive-refresh signal).
 * - `POST /v2/{appId}/push/single/cid`: request_id 10–32 characters, exactly one cid, ttl within
 *   −1…3 days, strategy values 1–4 on known keys, exactly one of notification / transmission,
 *   notification title ≤ 50 and body ≤ 256 characters with a valid click_type (and its url /
 *   intent / payload), vendor-channel blocks (push_channel.android.ups.notification, ios.aps)
 *   well formed. A repeated request_id answers the first result and is not pushed again.
 *   Unknown cid: HTTP 400 `20001 target user is invalid`; a cid idle for 90 days:
 *   `successed_ignore`.
 * - `GET /v2/{appId}/report/push/count`: today's allowance per vendor channel.
 * - Receipts: `receiptBody()` builds the callback Getui posts to the developer (one JSON per
 *   line, sign = md5(appid + cid + taskid + msgid + mastersecret)).
 *
 * Where Getui's documentation was not available to us the shapes are assumptions, marked
 * "assumed" here and in ../src/wire.ts, so both sides say the same thing.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface GetuiDevice {
  /** hw, xm, op, vv, ho, mz — the vendor channel an offline push goes through; ios for APNs. */
  vendor: string;
  online: boolean;
  /** Idle for 90 days: Getui answers successed_ignore and pushes nothing. */
  inactive?: boolean;
}

export interface GetuiPush {
  requestId: string;
  taskId: string;
  cid: string;
  status: string;
  body: Record<string, unknown>;
  token: string;
}

export interface GetuiQuotaEntry {
  total_num: number;
  remain_num: number;
  limit: boolean;
  push_num?: number;
}

export interface GetuiFake {
  port: number;
  /** What the provider is configured with: `http://127.0.0.1:<port>/v2`. */
  baseUrl: string;
  appId: string;
  appKey: string;
  masterSecret: string;
  devices: Map<string, GetuiDevice>;
  pushes: GetuiPush[];
  authCalls: Array<{ body: unknown; ok: boolean }>;
  /** Every request with why it was refused (empty reason when accepted). */
  requests: Array<{ method: string; path: string; status: number; code: number; msg: string }>;
  /** Remaining pushes today per vendor channel; vendors not listed are unlimited (hw). */
  quota: Map<string, GetuiQuotaEntry>;
  quotaCalls: number;
  /** Token lifetime the auth answers with (Getui: 1 day). */
  tokenTtlMs: number;
  /** Makes every token issued so far invalid (Getui revoked or expired it). */
  expireTokens(): void;
  /** The next push calls answer these instead (HTTP status, Getui code, msg). */
  queueFaults(...faults: Array<{ http: number; code: number; msg: string } | "hang">): void;
  /** A receipt callback body as Getui posts it, signed unless `forge` is set. */
  receiptBody(receipts: Array<{ cid: string; taskid: string; code: string; desc?: string; forge?: boolean; recvtime?: number }>): string;
  close(): Promise<void>;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const md5 = (text: string) => createHash("md5").update(text).digest("hex");

const STRATEGY_KEYS = new Set(["default", "ios", "st", "hw", "ho", "xm", "xmg", "vv", "op", "opg", "mz", "hosh", "fcm", "ups", "hwq"]);
const CLICK_TYPES = new Set(["intent", "url", "payload", "payload_custom", "startapp", "none"]);
const chars = (s: string) => [...s].length;

export async function startGetuiFake(options: { appId?: string; appKey?: string; masterSecret?: string } = {}): Promise<GetuiFake> {
  const appId = options.appId ?? "wpAppId0001";
  const appKey = options.appKey ?? "wpAppKey0001";
  const masterSecret = options.masterSecret ?? "wpMasterSecret0001";
  const tokens = new Map<string, number>();
  const byRequestId = new Map<string, { taskId: string; cid: string; status: string }>();
  const faults: Array<{ http: number; code: number; msg: string } | "hang"> = [];
  const hung: ServerResponse[] = [];

  const fake: GetuiFake = {
    port: 0,
    baseUrl: "",
    appId,
    appKey,
    masterSecret,
    devices: new Map(),
    pushes: [],
    authCalls: [],
    requests: [],
    quota: new Map(),
    quotaCalls: 0,
    tokenTtlMs: 86_400_000,
    expireTokens: () => tokens.clear(),
    queueFaults: (...f) => void faults.push(...f),
    receiptBody(receipts) {
      return receipts
        .map((r) => {
          const msgid = `msg_${randomBytes(6).toString("hex")}`;
          const sign = md5(`${appId}${r.cid}${r.taskid}${msgid}${r.forge ? "not-the-secret" : masterSecret}`);
          return JSON.stringify({ appid: appId, cid: r.cid, taskid: r.taskid, msgid, code: r.code, desc: r.desc ?? (r.code === "200" ? "成功" : "失败"), sign, recvtime: r.recvtime ?? Date.now() });
        })
        .join("\n");
    },
    close: async () => {
      for (const res of hung.splice(0)) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const answer = (req: IncomingMessage, res: ServerResponse, http: number, body: { code: number; msg: string; data?: unknown }) => {
    fake.requests.push({ method: req.method ?? "", path: req.url ?? "", status: http, code: body.code, msg: body.msg });
    res.writeHead(http, { "content-type": "application/json;charset=utf-8" });
    res.end(JSON.stringify(body));
  };
  const invalid = (req: IncomingMessage, res: ServerResponse, msg: string) => answer(req, res, 400, { code: 20001, msg });

  const liveToken = (req: IncomingMessage): string | null => {
    const token = req.headers.token;
    if (typeof token !== "string") return null;
    const expires = tokens.get(token);
    return expires !== undefined && expires > Date.now() ? token : null;
  };

  function auth(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>) {
    const ok = (msg: string | null) => {
      fake.authCalls.push({ body, ok: msg === null });
      if (msg !== null) return invalid(req, res, msg);
      const token = randomBytes(16).toString("hex");
      const expireTime = Date.now() + fake.tokenTtlMs;
      tokens.set(token, expireTime);
      answer(req, res, 200, { code: 0, msg: "success", data: { expire_time: String(expireTime), token } });
    };
    const { sign, timestamp, appkey } = body;
    if (appkey !== appKey) return ok("appkey is invalid");
    const ts = String(timestamp ?? "");
    if (!/^\d{13}$/.test(ts)) return ok("timestamp is invalid");
    if (Math.abs(Date.now() - Number(ts)) > 600_000) return ok("timestamp is invalid");
    if (typeof sign !== "string" || sign !== sha256(`${appkey}${ts}${masterSecret}`)) return ok("sign is invalid");
    ok(null);
  }

  /** Checks the push body the way the service does; answers the first problem (null when valid). */
  function checkPush(body: Record<string, unknown>): string | null {
    const requestId = body.request_id;
    if (typeof requestId !== "string" || requestId.length < 10 || requestId.length > 32) return "request_id is invalid";
    const audience = body.audience as { cid?: unknown } | undefined;
    if (!audience || !Array.isArray(audience.cid) || audience.cid.length !== 1 || typeof audience.cid[0] !== "string") return "audience is invalid";
    const settings = (body.settings ?? {}) as { ttl?: unknown; strategy?: Record<string, unknown> };
    if (settings.ttl !== undefined && (typeof settings.ttl !== "number" || settings.ttl < -1 || settings.ttl > 3 * 86_400_000)) return "ttl is invalid";
    for (const [key, value] of Object.entries(settings.strategy ?? {})) {
      if (!STRATEGY_KEYS.has(key)) return `strategy.${key} is invalid`;
      if (![1, 2, 3, 4].includes(value as number)) return `strategy.${key} is invalid`;
    }
    const message = body.push_message as Record<string, unknown> | undefined;
    if (!message) return "push_message can not be empty";
    const kinds = ["notification", "transmission", "revoke"].filter((k) => message[k] !== undefined);
    if (kinds.length !== 1) return "please choose one of notification and transmission and revoke";
    if (message.notification) {
      const problem = checkNotification(message.notification as Record<string, unknown>, "notification");
      if (problem) return problem;
    }
    if (message.transmission !== undefined && (typeof message.transmission !== "string" || message.transmission.length > 3072)) return "transmission is invalid";
    const channel = body.push_channel as { android?: { ups?: { notification?: Record<string, unknown> } }; ios?: Record<string, unknown> } | undefined;
    if (channel?.android) {
      const n = channel.android.ups?.notification;
      if (!n) return "push_channel.android.ups.notification can not be empty";
      const problem = checkNotification(n, "push_channel.android.ups.notification");
      if (problem) return problem;
    }
    if (channel?.ios) {
      const ios = channel.ios as { type?: unknown; aps?: { alert?: { title?: unknown; body?: unknown } } };
      if (ios.type !== "notify") return "push_channel.ios.type is invalid";
      if (typeof ios.aps?.alert?.body !== "string") return "push_channel.ios.aps.alert.body can not be empty";
    }
    return null;
  }

  function checkNotification(n: Record<string, unknown>, where: string): string | null {
    if (typeof n.title !== "string" || n.title === "") return `${where}.title can not be empty`;
    if (typeof n.body !== "string" || n.body === "") return `${where}.body can not be empty`;
    if (chars(n.title) > 50) return `${where}.title size over limit`;
    if (chars(n.body) > 256) return `${where}.body size over limit`;
    if (!CLICK_TYPES.has(n.click_type as string)) return `${where}.click_type is invalid`;
    if (n.click_type === "url" && !/^https?:\/\//.test(String(n.url ?? ""))) return `${where}.url is invalid`;
    if (n.click_type === "intent" && !String(n.intent ?? "").startsWith("intent:")) return `${where}.intent is invalid`;
    if ((n.click_type === "payload" || n.click_type === "payload_custom") && typeof n.payload !== "string") return `${where}.payload can not be empty`;
    return null;
  }

  function push(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>, token: string) {
    const fault = faults.shift();
    if (fault === "hang") return void hung.push(res);
    if (fault) return answer(req, res, fault.http, { code: fault.code, msg: fault.msg });
    const problem = checkPush(body);
    if (problem) return invalid(req, res, problem);
    const requestId = body.request_id as string;
    const cid = (body.audience as { cid: string[] }).cid[0]!;
    const earlier = byRequestId.get(requestId);
    if (earlier) {
      // Assumed from "如果request_id重复,会导致消息丢失": a repeated request_id is not pushed again.
      return answer(req, res, 200, { code: 0, msg: "success", data: { [earlier.taskId]: { [earlier.cid]: earlier.status } } });
    }
    const device = fake.devices.get(cid);
    if (!device) return invalid(req, res, "target user is invalid");
    const status = device.inactive ? "successed_ignore" : device.online ? "successed_online" : "successed_offline";
    const taskId = `RASS_${new Date().toISOString().slice(5, 10).replace("-", "")}_${randomBytes(16).toString("hex")}`;
    byRequestId.set(requestId, { taskId, cid, status });
    const quota = fake.quota.get(device.vendor);
    if (quota && status !== "successed_ignore") {
      quota.remain_num = Math.max(0, quota.remain_num - 1);
      quota.limit = quota.remain_num === 0;
    }
    fake.pushes.push({ requestId, taskId, cid, status, body, token });
    answer(req, res, 200, { code: 0, msg: "success", data: { [taskId]: { [cid]: status } } });
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const match = /^\/v2\/([^/]+)(\/.*)$/.exec(url.pathname);
      if (!match) return answer(req, res, 404, { code: 404, msg: "url错误" });
      if (match[1] !== appId) return answer(req, res, 200, { code: 301, msg: "域名错误" });
      const route = `${req.method} ${match[2]}`;
      let body: Record<string, unknown> = {};
      if (req.method === "POST") {
        if (!String(req.headers["content-type"] ?? "").startsWith("application/json")) return answer(req, res, 200, { code: 1, msg: "失败" });
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
        } catch {
          return answer(req, res, 200, { code: 1, msg: "失败" });
        }
      }
      if (route === "POST /auth") return auth(req, res, body);
      const token = liveToken(req);
      if (!token) return answer(req, res, 401, { code: 10001, msg: "token错误/失效" });
      if (route === "POST /push/single/cid") return push(req, res, body, token);
      if (route === "GET /report/push/count") {
        fake.quotaCalls++;
        // Assumed shape: data keyed by appId, then by vendor channel, each a PushCountDTO
        // (total_num, remain_num, push_num for vivo only, limit). Vendors without a limit are absent.
        return answer(req, res, 200, { code: 0, msg: "success", data: { [appId]: Object.fromEntries(fake.quota) } });
      }
      if (req.method !== "GET" && req.method !== "POST") return answer(req, res, 405, { code: 405, msg: "方法不支持" });
      answer(req, res, 404, { code: 404, msg: "url错误" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.port = (server.address() as AddressInfo).port;
  fake.baseUrl = `http://127.0.0.1:${fake.port}/v2`;
  return fake;
}
