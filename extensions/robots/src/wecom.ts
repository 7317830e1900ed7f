/**
 * WeCom (企业微信) group robot: posts an alert to a group chat. The webhook is
 * `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`; the key is the only credential (a
 * secret, Settings › Extensions). Text content is at most 2,048 bytes and markdown 4,096 (UTF-8):
 * longer alerts are cut and the cut is reported in the node's detail.
 */
import { defineNode, fail, output, retry, z } from "waypost/extension";
import { fill, fitBytes } from "./text";

export const WECOM_MAX_BYTES = { text: 2048, markdown: 4096 } as const;

export const wecomConfig = z.object({
  msgType: z.enum(["text", "markdown"]).default("text"),
  content: z.string().min(1),
  /** Text only: phone numbers to @ (`@all` for everyone). */
  mentionedMobiles: z.array(z.string().regex(/^(\+?\d{5,15}|@all)$/)).default([]),
  baseUrl: z.string().url().default("https://qyapi.weixin.qq.com"),
});

export const wecomRobot = defineNode({
  id: "robots.wecom",
  version: 1,
  title: { en: "WeCom group robot", zh: "企业微信群机器人" },
  description: { en: "Post an internal alert to a WeCom group chat.", zh: "向企业微信群发送内部提醒。" },
  icon: "💬",
  category: "messages",
  config: wecomConfig,
  defaults: { msgType: "text", content: "用户 {{ user.id }} 进入了 {{ journey.name }}" },
  outputs: [{ id: "sent", label: { en: "Sent", zh: "已发送" } }],
  secrets: [{ name: "key", label: { en: "Robot webhook key", zh: "机器人 Webhook key" } }],
  execution: { timeoutMs: 10_000, maxAttempts: 5 },
  summary: (config, locale) => `${locale === "zh" ? "企业微信" : "WeCom"} · ${config.content.slice(0, 30)}`,
  async run(ctx) {
    const key = await ctx.secrets.get("key");
    if (!key) return fail("not_configured", { missing: "key" });
    const limit = WECOM_MAX_BYTES[ctx.config.msgType];
    const filled = fitBytes(fill(ctx.config.content, ctx), limit);
    const body =
      ctx.config.msgType === "markdown"
        ? { msgtype: "markdown", markdown: { content: filled.text } }
        : { msgtype: "text", text: { content: filled.text, ...(ctx.config.mentionedMobiles.length ? { mentioned_mobile_list: ctx.config.mentionedMobiles } : {}) } };
    const url = new URL("/cgi-bin/webhook/send", ctx.config.baseUrl);
    url.searchParams.set("key", key);
    const res = await ctx.fetch(url.toString(), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 500 || res.status === 429) return retry(`WeCom answered HTTP ${res.status}`);
    let answer: { errcode?: number; errmsg?: string };
    try {
      answer = JSON.parse(text) as typeof answer;
    } catch {
      return retry(`WeCom answered HTTP ${res.status} without JSON`);
    }
    const truncated = filled.truncated ? { truncated: { bytes: filled.bytes, limit } } : undefined;
    if (answer.errcode === 0) return output("sent", truncated);
    // 45009: over 20 messages a minute — try again later.
    if (answer.errcode === 45009) return retry(`WeCom: ${answer.errmsg ?? "api freq out of limit"}`);
    // 93000: invalid webhook key; 40xxx: a malformed message. Retrying changes nothing.
    return fail(answer.errcode === 93000 ? "robot_refused" : "robot_error", { errcode: answer.errcode, errmsg: answer.errmsg, ...truncated });
  },
});
