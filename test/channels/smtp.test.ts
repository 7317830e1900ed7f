import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChannelProvider, OutboundMessage } from "../../nodes/channels/provider";
import { createSmtpProvider, messageIdFor } from "../../nodes/channels/smtp/provider.server";
import { addTracking, parseTrackingPath, unsubscribeHeaders } from "../../nodes/channels/smtp/tracking.server";
import { startSmtpFake, type SmtpFake } from "../fakes/smtp-server";

// Real nodemailer over real SMTP to a loopback smtp-server.
let fake: SmtpFake;
let smtp: ChannelProvider;
const secret = "test-tracking-secret";

const mail = (over: Partial<OutboundMessage> = {}): OutboundMessage => ({
  messageId: "msg-e1",
  idempotencyKey: "k-e1",
  channel: "email",
  category: "marketing",
  to: "lin@example.com",
  content: { subject: "你的专属优惠券", html: "<html><body><p>你好 林，</p><a href=\"https://shop.example.com/c?id=1&amp;s=2\">领取</a></body></html>" },
  ...over,
});

beforeAll(async () => {
  fake = await startSmtpFake();
  smtp = createSmtpProvider({ host: "127.0.0.1", port: fake.port, from: "路标商城 <news@shop.example.com>", timeoutMs: 1_000, maxConnections: 2 });
});
afterAll(async () => {
  await smtp.close?.();
  await fake.close();
});

describe("SMTP provider on the wire", () => {
  it("sends HTML + text with one-click unsubscribe, open pixel and signed click links", async () => {
    const message = mail();
    const base = { baseUrl: "https://wp.example.com", secret, messageId: message.messageId };
    message.content.html = addTracking(message.content.html!, base);
    message.headers = unsubscribeHeaders({ ...base, mailto: "unsubscribe@shop.example.com" });
    const outcome = await smtp.send(message);
    expect(outcome).toEqual({ ok: true, providerMessageId: messageIdFor("k-e1", "shop.example.com"), state: "sent" });

    const got = fake.mails.at(-1)!;
    expect(got.envelope).toEqual({ from: "news@shop.example.com", to: ["lin@example.com"] });
    expect(got.headers["message-id"]).toBe(messageIdFor("k-e1", "shop.example.com"));
    expect(got.headers["x-waypost-message-id"]).toBe("msg-e1");
    expect(got.headers["list-unsubscribe-post"]).toBe("List-Unsubscribe=One-Click");
    const unsubscribe = /<(https:[^>]+)>/.exec(got.headers["list-unsubscribe"]!)![1]!;
    expect(parseTrackingPath(secret, new URL(unsubscribe).pathname)).toEqual({ kind: "unsubscribe", messageId: "msg-e1" });
    expect(got.headers["list-unsubscribe"]).toContain("<mailto:unsubscribe@shop.example.com?subject=unsubscribe>");

    const click = /href="([^"]+)"/.exec(got.html!)![1]!;
    expect(click.startsWith("https://wp.example.com/t/c/")).toBe(true);
    expect(parseTrackingPath(secret, new URL(click).pathname)).toEqual({
      kind: "click",
      messageId: "msg-e1",
      url: "https://shop.example.com/c?id=1&s=2",
    });
    const pixel = /<img src="([^"]+)"/.exec(got.html!)![1]!;
    expect(parseTrackingPath(secret, new URL(pixel).pathname)).toEqual({ kind: "open", messageId: "msg-e1" });
    // Text part derived from the HTML for clients that do not render it.
    expect(got.text).toContain("你好 林，");
  });

  it("records a recipient refused at RCPT TO (550) as a bounce and retires the address", async () => {
    fake.rejectRecipient.set("gone@example.com", { code: 550, message: "5.1.1 <gone@example.com>: Recipient address rejected: User unknown" });
    const outcome = await smtp.send(mail({ to: "gone@example.com", messageId: "m-b", idempotencyKey: "k-b" }));
    expect(outcome).toMatchObject({ ok: false, reason: "bounced", retireAddress: true, providerCode: "550" });
  });

  it("treats a 4xx as retryable and a 5xx at DATA as a rejection", async () => {
    fake.queueDataFaults({ code: 451, message: "4.3.0 Try again later" }, { code: 554, message: "5.7.1 Message rejected as spam" });
    expect(await smtp.send(mail({ messageId: "m-451", idempotencyKey: "k-451" }))).toMatchObject({ ok: false, reason: "provider_unavailable", retryable: true, providerCode: "451" });
    expect(await smtp.send(mail({ messageId: "m-554", idempotencyKey: "k-554" }))).toMatchObject({ ok: false, reason: "provider_rejected", retryable: false, providerCode: "554" });
  });

  it("times out when the server never answers DATA", async () => {
    fake.queueDataFaults("hang");
    const outcome = await smtp.send(mail({ messageId: "m-hang", idempotencyKey: "k-hang" }));
    expect(outcome).toMatchObject({ ok: false, reason: "timeout", retryable: true });
  });

  it("rejects forged or edited tracking links", () => {
    const url = addTracking('<a href="https://a.example/x">x</a>', { baseUrl: "https://wp", secret, messageId: "m" });
    const path = new URL(/href="([^"]+)"/.exec(url)![1]!).pathname;
    expect(parseTrackingPath(secret, path)).not.toBeNull();
    expect(parseTrackingPath("other-secret", path)).toBeNull();
    const [data, sig] = path.split("/").at(-1)!.split(".");
    const edited = Buffer.from(JSON.stringify({ m: "m", u: "https://evil.example", k: "c" })).toString("base64url");
    expect(parseTrackingPath(secret, `/t/c/${edited}.${sig}`)).toBeNull();
    expect(parseTrackingPath(secret, `/t/o/${data}.${sig}`)).toBeNull();
  });
});
