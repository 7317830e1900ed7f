/**
 * DingTalk (钉钉) custom group robot: posts an alert to a group from a journey. The robot's
 * webhook is `https://oapi.dingtalk.com/robot/send?access_token=…`; with 加签 (signing) on, each
 * call adds `timestamp` (ms) and `sign` = urlencode(base64(HmacSHA256(key = secret,
 * "timestamp\nsecret"))), and DingTalk refuses a timestamp more than an hour off. The access
 * token and the SEC… secret are secrets (Settings › Extensions), never in the journey.
 */
import { createHmac } from "node:crypto";
import { defineNode, fail, output, retry, z } from "waypost/extension";
import { fill, fitBytes } from "./text";

/** DingTalk's documented ceiling for a text or markdown message (bytes of UTF-8); assumed 20,000. */
export const DINGTALK_MAX_BYTES = 20_000;

export function dingtalkSign(timestamp: string, secret: string): string {
  return createHmac("sha256", secret).update(`${timestamp}\n${secret}`).digest("base64");
}

export const dingtalkConfig = z.object({
  msgType: z.enum(["text", "markdown"]).default("text"),
  /** Markdown only: the title shown in the conversation list. */
  title: z.string().max(100).default("Waypost"),
  /** `{{ user.id }}`, `{{ user.<trait> }}`, `{{ event.properties.<key> }}`, `{{ journey.name }}` are filled in. */
  content: z.string().min(1),
  /** Phone numbers to @ in the group. */
  atMobiles: z.array(z.string().regex(/^\+?\d{5,15}$/)).default([]),
  atAll: z.boolean().default(false),
  /** For tests and private deployments of the DingTalk gateway. */
  baseUrl: z.string().url().default("https://oapi.dingtalk.com"),
});

export const dingtalkRobot = defineNode({
  id: "robots.dingtalk",
  version: 1,
  title: { en: "DingTalk group robot", zh: "钉钉群机器人" },
  description: { en: "Post an internal alert to a DingTalk group.", zh: "向钉钉群发送内部提醒。" },
  icon: "🤖",
  category: "messages",
  config: dingtalkConfig,
  defaults: { msgType: "text", content: "用户 {{ user.id }} 进入了 {{ journey.name }}" },
  outputs: [{ id: "sent", label: { en: "Sent", zh: "已发送" } }],
  secrets: [
    { name: "accessToken", label: { en: "Robot access token (from the webhook URL)", zh: "机器人 access_token（Webhook 地址中）" } },
    { name: "secret", label: { en: "Signing secret (SEC…)", zh: "加签密钥（SEC 开头）" } },
  ],
  execution: { timeoutMs: 10_000, maxAttempts: 5 },
  summary: (config, locale) => `${locale === "zh" ? "钉钉" : "DingTalk"} · ${config.content.slice(0, 30)}`,
  async run(ctx) {
    const accessToken = await ctx.secrets.get("accessToken");
    if (!accessToken) return fail("not_configured", { missing: "accessToken" });
    const secret = await ctx.secrets.get("secret");
    const filled = fitBytes(fill(ctx.config.content, ctx), DINGTALK_MAX_BYTES);
    const body =
      ctx.config.msgType === "markdown"
        ? { msgtype: "markdown", markdown: { title: ctx.config.title, text: filled.text }, at: { atMobiles: ctx.config.atMobiles, isAtAll: ctx.config.atAll } }
        : { msgtype: "text", text: { content: filled.text }, at: { atMobiles: ctx.config.atMobiles, isAtAll: ctx.config.atAll } };
    const url = new URL("/robot/send", ctx.config.baseUrl);
    url.searchParams.set("access_token", accessToken);
    if (secret) {
      // Wall-clock time, not the journey's (virtual in simulations): DingTalk checks it against its own.
      const timestamp = String(Date.now());
      url.searchParams.set("timestamp", timestamp);
      url.searchParams.set("sign", dingtalkSign(timestamp, secret)); // URLSearchParams url-encodes it
    }
    const res = await ctx.fetch(url.toString(), { method: "POST", headers: { "content-type": "application/json;charset=utf-8" }, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 500 || res.status === 429) return retry(`DingTalk answered HTTP ${res.status}`);
    let answer: { errcode?: number; errmsg?: string };
    try {
      answer = JSON.parse(text) as typeof answer;
    } catch {
      return retry(`DingTalk answered HTTP ${res.status} without JSON`);
    }
    const detail = { errcode: answer.errcode, errmsg: answer.errmsg, ...(filled.truncated ? { truncated: { bytes: filled.bytes, limit: DINGTALK_MAX_BYTES } } : {}) };
    if (answer.errcode === 0) return output("sent", filled.truncated ? { truncated: detail.truncated } : undefined);
    // 130101: more than 20 messages a minute from this robot — wait and try again.
    if (answer.errcode === 130101) return retry(`DingTalk: ${answer.errmsg ?? "send too fast"}`);
    // 310000: signature, keyword or IP check failed; 300001: unknown token. Retrying changes nothing.
    return fail(answer.errcode === 310000 ? "robot_refused" : "robot_error", detail);
  },
});
