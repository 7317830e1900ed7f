/**
 * Loopback servers for the DingTalk and WeCom group-robot webhooks, verifying what the real
 * services verify: DingTalk's access_token, timestamp within an hour and sign =
 * base64(HmacSHA256(secret, "timestamp\nsecret")) (sent url-encoded), the message shape and the
 * group's keyword; WeCom's key, message shape and its 2,048 / 4,096-byte content limits. Both
 * answer {errcode, errmsg} with the services' codes, and can be told to throttle.
 */
import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RobotFake {
  baseUrl: string;
  /** Messages the group received. */
  received: Array<Record<string, unknown>>;
  /** Raw query strings of every request, to check what went on the wire. */
  queries: string[];
  /** The next requests answer "too fast" (DingTalk 130101, WeCom 45009). */
  throttleNext: number;
  close(): Promise<void>;
}

function serve(handler: (url: URL, body: string, res: ServerResponse, fake: RobotFake) => void): Promise<RobotFake> {
  const fake: RobotFake = { baseUrl: "", received: [], queries: [], throttleNext: 0, close: async () => {} };
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      fake.queries.push(url.search);
      if (req.method !== "POST") return json(res, 405, { errcode: 405, errmsg: "POST only" });
      handler(url, Buffer.concat(chunks).toString("utf8"), res, fake);
    });
  });
  fake.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      fake.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve(fake);
    }),
  );
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

const parse = (body: string): Record<string, unknown> | null => {
  try {
    return JSON.parse(body) as Record<string, unknown>;
  } catch {
    return null;
  }
};

export function startDingtalkFake(robot: { accessToken: string; secret: string; keyword?: string }): Promise<RobotFake> {
  return serve((url, raw, res, fake) => {
    if (url.pathname !== "/robot/send") return json(res, 404, { errcode: 404, errmsg: "not found" });
    if (url.searchParams.get("access_token") !== robot.accessToken) return json(res, 200, { errcode: 300001, errmsg: "token is not exist" });
    const timestamp = url.searchParams.get("timestamp") ?? "";
    const sign = url.searchParams.get("sign") ?? "";
    const expected = createHmac("sha256", robot.secret).update(`${timestamp}\n${robot.secret}`).digest("base64");
    if (!/^\d{13}$/.test(timestamp) || Math.abs(Date.now() - Number(timestamp)) > 3_600_000) return json(res, 200, { errcode: 310000, errmsg: "invalid timestamp" });
    if (sign !== expected) return json(res, 200, { errcode: 310000, errmsg: "sign not match" });
    // The sign must arrive url-encoded (base64 has + / =): check the raw query, not the decoded one.
    if (!fake.queries.at(-1)!.includes(`sign=${encodeURIComponent(expected)}`)) return json(res, 200, { errcode: 310000, errmsg: "sign not match" });
    const body = parse(raw);
    if (!body) return json(res, 200, { errcode: 40035, errmsg: "缺少参数 json" });
    const type = body.msgtype;
    const text = type === "text" ? (body.text as { content?: unknown })?.content : type === "markdown" ? (body.markdown as { text?: unknown; title?: unknown })?.text : undefined;
    if (typeof text !== "string" || text === "") return json(res, 200, { errcode: 40035, errmsg: "缺少参数 content" });
    if (type === "markdown" && typeof (body.markdown as { title?: unknown }).title !== "string") return json(res, 200, { errcode: 40035, errmsg: "缺少参数 title" });
    if (robot.keyword && !text.includes(robot.keyword)) return json(res, 200, { errcode: 310000, errmsg: "keywords not in content" });
    if (fake.throttleNext > 0) {
      fake.throttleNext--;
      return json(res, 200, { errcode: 130101, errmsg: "send too fast, exceed 20 times per minute" });
    }
    fake.received.push(body);
    json(res, 200, { errcode: 0, errmsg: "ok" });
  });
}

export function startWecomFake(robot: { key: string }): Promise<RobotFake> {
  return serve((url, raw, res, fake) => {
    if (url.pathname !== "/cgi-bin/webhook/send") return json(res, 404, { errcode: 404, errmsg: "not found" });
    if (url.searchParams.get("key") !== robot.key) return json(res, 200, { errcode: 93000, errmsg: "invalid webhook url" });
    const body = parse(raw);
    if (!body) return json(res, 200, { errcode: 40058, errmsg: "invalid json" });
    const type = body.msgtype;
    const content = type === "text" ? (body.text as { content?: unknown })?.content : type === "markdown" ? (body.markdown as { content?: unknown })?.content : undefined;
    if (typeof content !== "string" || content === "") return json(res, 200, { errcode: 40008, errmsg: "invalid message type" });
    const limit = type === "text" ? 2048 : 4096;
    if (Buffer.byteLength(content) > limit) return json(res, 200, { errcode: 40058, errmsg: `content exceed max length ${limit}` });
    if (fake.throttleNext > 0) {
      fake.throttleNext--;
      return json(res, 200, { errcode: 45009, errmsg: "api freq out of limit" });
    }
    fake.received.push(body);
    json(res, 200, { errcode: 0, errmsg: "ok" });
  });
}
