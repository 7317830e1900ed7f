import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import { createChannelsRuntime, type ChannelsRuntime } from "../../nodes/channels/runtime.server";
import { savePolicySettings, saveProviderSettings } from "../../nodes/channels/settings.server";
import { startAliyunSmsFake, type AliyunSmsFake } from "../fakes/aliyun-sms-server";
import { startSmtpFake, type SmtpFake } from "../fakes/smtp-server";
import { startTestApp, type TestApp } from "../support/app";
import { createUser, historyStates, messageRow, request } from "./support";

/**
 * The channels' public endpoints over real HTTP (the Remix build behind express): email open
 * pixel, click redirect, one-click unsubscribe and its page, Alibaba Cloud's SmsReport and SmsUp
 * callbacks with the payloads Alibaba posts, and the bounce webhook.
 */
const AK = { accessKeyId: "LTAI5tRoutes", accessKeySecret: "routes-secret-value" };
let app: TestApp;
let smtp: SmtpFake;
let sms: AliyunSmsFake;
let channels: ChannelsRuntime;
let ws: string;

beforeAll(async () => {
  [app, smtp, sms] = await Promise.all([startTestApp({ serve: true, env: { WAYPOST_SECRET_KEY: "routes-test-secret-key-0123456789abcdef", WAYPOST_OUTBOUND_ALLOW: "127.0.0.1" } }), startSmtpFake(), startAliyunSmsFake(AK)]);
  sms.signNames.add("路标商城");
  sms.templates.set("SMS_2001", "您的车费${fare}元已扣除");
  ws = app.workspaceId;
  // The server's own runtime, with the Aliyun client speaking plain HTTP to the loopback fake.
  channels = app.services.channels = createChannelsRuntime(app.services, { aliyunProtocol: "http", timeoutMs: 2_000 });
  await saveProviderSettings(app.services.db, channels.key(), {
    workspaceId: ws,
    channel: "email",
    provider: "smtp",
    config: { host: "127.0.0.1", port: smtp.port, from: "路标商城 <news@shop.example.com>", trackingBaseUrl: app.url },
  });
  await saveProviderSettings(app.services.db, channels.key(), {
    workspaceId: ws,
    channel: "sms",
    provider: "aliyun-sms",
    config: { accessKeyId: AK.accessKeyId, signName: "路标商城", endpoint: sms.endpoint },
    secrets: { accessKeySecret: AK.accessKeySecret },
  });
  await savePolicySettings(app.services.db, ws, { frequencyCaps: [], quietHours: { enabled: false } });
});
afterAll(async () => {
  await channels?.close();
  await Promise.all([smtp?.close(), sms?.close()]);
  await app?.close();
});

const db = () => ({ db: app.services.db }) as Parameters<typeof messageRow>[0];

async function sendEmail(userId: string, html: string) {
  await createUser(db(), ws, userId, { email: `${userId}@example.com` });
  const res = await channels.messaging.sendMessage(request(ws, { userId, channel: "email", category: "marketing", content: { subject: "本周好物", html } }));
  expect(res.status).toBe("sent");
  const mail = smtp.mails.at(-1)!;
  const links = [...mail.html!.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, "&"));
  return {
    id: res.messageId!,
    click: links.find((l) => l.includes("/t/c/"))!,
    pixel: links.find((l) => l.includes("/t/o/"))!,
    unsubscribe: /<([^>]+\/t\/u\/[^>]+)>/.exec(mail.headers["list-unsubscribe"]!)![1]!,
  };
}

/** Swaps the signed payload of a token for another one, keeping the signature. */
function forge(url: string, payload: object): string {
  const [base, token] = [url.slice(0, url.lastIndexOf("/") + 1), url.slice(url.lastIndexOf("/") + 1)];
  const signature = token.split(".")[1];
  return `${base}${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${signature}`;
}

describe("email tracking endpoints", () => {
  it("serves the open pixel, counts the open (and the implied delivery) once", async () => {
    const m = await sendEmail("t1", '<p>你好</p><a href="https://shop.example.com/p/1?a=1&b=2">看看</a>');
    expect(m.pixel.startsWith(`${app.url}/t/o/`)).toBe(true);
    const res = await fetch(m.pixel);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/gif");
    expect(res.headers.get("cache-control")).toContain("no-store");
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(20);
    await fetch(m.pixel);
    expect(await historyStates(db(), m.id)).toEqual(["queued", "sent", "opened"]);
  });

  it("redirects a click to the signed URL only; a tampered link is 400 and records nothing", async () => {
    const m = await sendEmail("t2", '<a href="https://shop.example.com/p/2?a=1&b=2">看看</a>');
    const bad = await fetch(forge(m.click, { m: m.id, u: "https://evil.example.net/", k: "c" }), { redirect: "manual" });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("location")).toBeNull();
    const cut = await fetch(m.click.slice(0, -3), { redirect: "manual" });
    expect(cut.status).toBe(400);
    expect(await historyStates(db(), m.id)).toEqual(["queued", "sent"]);

    const res = await fetch(m.click, { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://shop.example.com/p/2?a=1&b=2");
    expect(await historyStates(db(), m.id)).toEqual(["queued", "sent", "clicked"]);
    // A pixel signed for this message cannot be used as a click (kind is signed too).
    expect((await fetch(m.pixel.replace("/t/o/", "/t/c/"), { redirect: "manual" })).status).toBe(400);
  });

  it("shows a confirmation page on GET (nothing changes) and unsubscribes on the RFC 8058 POST", async () => {
    const m = await sendEmail("t3", "<p>促销</p>");
    const page = await fetch(m.unsubscribe, { headers: { "accept-language": "zh-CN" } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("不再向 t••@example.com 发送营销邮件");
    expect(html).not.toContain("t3@example.com");
    const suppressed = () => query(app.services.db, sql`select scope, source from suppressions where workspace_id = ${ws} and address = 't3@example.com'`);
    expect(await suppressed()).toEqual([]);

    const res = await fetch(m.unsubscribe, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("Unsubscribed");
    expect(await suppressed()).toEqual([{ scope: "marketing", source: "list_unsubscribe" }]);
    const again = await channels.messaging.sendMessage(request(ws, { userId: "t3", channel: "email", category: "marketing", content: { subject: "再来", html: "<p>x</p>" } }));
    expect(again).toMatchObject({ status: "failed", reason: "unsubscribed" });
    // The page now says it is done; a forged link is refused.
    expect(await (await fetch(m.unsubscribe, { headers: { "accept-language": "en" } })).text()).toContain("is unsubscribed");
    expect((await fetch(forge(m.unsubscribe, { m: "6f1c0a52-3d1e-4c55-9a53-0d7c2b8f9e10", k: "u" }), { method: "POST", body: "List-Unsubscribe=One-Click", headers: { "content-type": "application/x-www-form-urlencoded" } })).status).toBe(400);
  });
});

describe("Alibaba Cloud SMS callbacks", () => {
  const post = (path: string, body: unknown) => fetch(`${app.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  it("applies an SmsReport batch and answers {code:0,msg:成功}", async () => {
    await createUser(db(), ws, "r1", { phone: "+86 138 0000 1001" });
    const res = await channels.messaging.sendMessage(request(ws, { userId: "r1", channel: "sms", category: "transactional", content: { templateCode: "SMS_2001", templateParams: { fare: "3" }, body: "您的车费3元已扣除" } }));
    expect(res.status).toBe("sent");
    const row = await messageRow(db(), res.messageId!);
    const path = `/callbacks/aliyun-sms/${await channels.callbackToken(ws, "sms-report")}/report`;
    const answer = await post(path, [
      {
        phone_number: "13800001001",
        send_time: "2024-06-01 12:00:00",
        report_time: "2024-06-01 12:00:04",
        success: true,
        err_code: "DELIVERED",
        err_msg: "用户接收成功",
        sms_size: "1",
        biz_id: row.provider_message_id,
        out_id: res.messageId,
      },
    ]);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ code: 0, msg: "成功" });
    expect(await historyStates(db(), res.messageId!)).toEqual(["queued", "sent", "delivered"]);

    // Another workspace's token (or a made-up one) is refused; the body is never read.
    expect((await post(`/callbacks/aliyun-sms/${ws}.not-a-valid-signature/report`, [])).status).toBe(403);
    expect((await post(`/callbacks/aliyun-sms/${await channels.callbackToken(ws, "sms-up")}/report`, [])).status).toBe(403);
    const malformed = await post(path, { not: "an array" });
    expect(malformed.status).toBe(400);
    expect((await malformed.json()).code).not.toBe(0);
  });

  it("turns an SmsUp reply 退订 into an SMS opt-out", async () => {
    const answer = await post(`/callbacks/aliyun-sms/${await channels.callbackToken(ws, "sms-up")}/replies`, [
      { phone_number: "13800001002", send_time: "2024-06-01 12:01:00", content: "退订。", sign_name: "路标商城", dest_code: "1234", sequence_id: 1234567 },
      { phone_number: "13800001003", send_time: "2024-06-01 12:01:00", content: "谢谢", sign_name: "路标商城", dest_code: "1234", sequence_id: 1234568 },
    ]);
    expect(await answer.json()).toEqual({ code: 0, msg: "成功" });
    const rows = await query<{ address: string; source: string }>(app.services.db, sql`select address, source from suppressions where workspace_id = ${ws} and channel = 'sms' order by address`);
    expect(rows).toEqual([{ address: "13800001002", source: "sms_reply" }]);
  });
});

describe("email bounce webhook", () => {
  it("fails a sent message as bounced and suppresses the address", async () => {
    const m = await sendEmail("b1", "<p>hello</p>");
    const dsn = [
      "From: MAILER-DAEMON@relay.example.com",
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
      "",
      "--b1",
      "Content-Type: message/delivery-status",
      "",
      "Reporting-MTA: dns; relay.example.com",
      "",
      "Final-Recipient: rfc822; b1@example.com",
      "Action: failed",
      "Status: 5.1.1",
      "Diagnostic-Code: smtp; 550 5.1.1 <b1@example.com>: User unknown",
      "",
      "--b1",
      "Content-Type: text/rfc822-headers",
      "",
      `X-Waypost-Message-Id: ${m.id}`,
      "--b1--",
    ].join("\r\n");
    const url = `${app.url}/callbacks/email/${await channels.callbackToken(ws, "email-bounce")}/bounce`;
    const res = await fetch(url, { method: "POST", headers: { "content-type": "message/rfc822" }, body: dsn });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, changed: true });
    expect(await messageRow(db(), m.id)).toMatchObject({ state: "failed", failure_reason: "bounced" });
    const [s] = await query<{ scope: string }>(app.services.db, sql`select scope from suppressions where workspace_id = ${ws} and address = 'b1@example.com'`);
    expect(s).toEqual({ scope: "all" });
    expect((await fetch(url.replace("/bounce", "x/bounce"), { method: "POST", body: dsn })).status).toBe(403);
    expect((await fetch(url, { method: "POST", body: "" })).status).toBe(400);
  });
});
