import { createHash, createHmac } from "node:crypto";
import { request } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createAliyunSmsProvider, type AliyunSmsProvider } from "../../nodes/channels/aliyun-sms/provider.server";
import type { OutboundMessage } from "../../nodes/channels/provider";
import { startAliyunSmsFake, type AliyunSmsFake } from "../fakes/aliyun-sms-server";

// The real @alicloud/dysmsapi20170525 client signs and sends; the fake checks the signature
// itself and answers like Dysmsapi. Nothing in between is mocked.
const AK = { accessKeyId: "LTAI5tTestKeyId", accessKeySecret: "test-secret-Ab12" };
let fake: AliyunSmsFake;
let sms: AliyunSmsProvider;

const message = (over: Partial<OutboundMessage> = {}): OutboundMessage => ({
  messageId: "msg-sms-1",
  idempotencyKey: "k-sms-1",
  channel: "sms",
  category: "marketing",
  to: "+86 138 0013 8000",
  content: { templateCode: "SMS_468000001", templateParams: { name: "小明", amount: "10" }, signName: "路标商城" },
  ...over,
});

beforeAll(async () => {
  fake = await startAliyunSmsFake(AK);
  fake.signNames.add("路标商城");
  fake.templates.set("SMS_468000001", "${name}，送你${amount}元红包，点击领取 wp.link/r 回TD退订");
  sms = createAliyunSmsProvider({ ...AK, signName: "路标商城", endpoint: fake.endpoint, protocol: "http", timeoutMs: 400 });
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.balance = Number.POSITIVE_INFINITY;
  fake.perNumberPerMinute = 0;
});

describe("Alibaba Cloud SMS provider on the wire", () => {
  it("sends a correctly signed SendSms with sign name, template code, params and OutId", async () => {
    const before = fake.requests.length;
    const outcome = await sms.send(message());
    expect(outcome).toMatchObject({ ok: true, state: "sent" });
    const req = fake.requests[before]!;
    expect(req.signatureValid).toBe(true);
    expect(req.action).toBe("SendSms");
    expect(req.method).toBe("POST");
    expect(req.headers["x-acs-version"]).toBe("2017-05-25");
    expect(req.headers.authorization).toMatch(/^ACS3-HMAC-SHA256 Credential=LTAI5tTestKeyId,SignedHeaders=\S+,Signature=[0-9a-f]{64}$/);
    expect(req.params).toEqual({
      PhoneNumbers: "13800138000",
      SignName: "路标商城",
      TemplateCode: "SMS_468000001",
      TemplateParam: JSON.stringify({ name: "小明", amount: "10" }),
      OutId: "msg-sms-1",
    });
    expect(fake.sent.at(-1)!.content).toBe("【路标商城】小明，送你10元红包，点击领取 wp.link/r 回TD退订");
  });

  it("rejects a request signed with the wrong secret (the fake really verifies)", async () => {
    const wrong = createAliyunSmsProvider({ ...AK, accessKeySecret: "not-the-secret", signName: "路标商城", endpoint: fake.endpoint, protocol: "http" });
    const outcome = await wrong.send(message({ messageId: "m-wrong" }));
    expect(outcome).toMatchObject({ ok: false, reason: "provider_rejected", providerCode: "SignatureDoesNotMatch" });
    expect(fake.requests.at(-1)!.signatureValid).toBe(false);
  });

  it("verifies a signature computed by hand from Alibaba's documented algorithm", async () => {
    // Independent of the SDK: build the canonical request ourselves and send it raw.
    const body = "";
    const headers: Record<string, string> = {
      host: fake.endpoint,
      "x-acs-action": "QuerySendDetails",
      "x-acs-version": "2017-05-25",
      "x-acs-date": new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
      "x-acs-signature-nonce": `nonce-${Date.now()}`,
      "x-acs-content-sha256": createHash("sha256").update(body).digest("hex"),
    };
    const query = "PhoneNumber=13800138000&SendDate=20240101";
    const signed = Object.keys(headers).sort();
    const canonical = ["POST", "/", query, signed.map((h) => `${h}:${headers[h]}\n`).join(""), signed.join(";"), headers["x-acs-content-sha256"]].join("\n");
    const toSign = `ACS3-HMAC-SHA256\n${createHash("sha256").update(canonical).digest("hex")}`;
    const signature = createHmac("sha256", AK.accessKeySecret).update(toSign).digest("hex");
    headers.authorization = `ACS3-HMAC-SHA256 Credential=${AK.accessKeyId},SignedHeaders=${signed.join(";")},Signature=${signature}`;
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: fake.port, method: "POST", path: `/?${query}`, headers }, (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode!, body: text }));
      });
      req.on("error", reject);
      req.end(body);
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ Code: "OK", TotalCount: 0 });
  });

  it("maps isv.MOBILE_NUMBER_ILLEGAL to invalid_address", async () => {
    const outcome = await sms.send(message({ to: "12345", messageId: "m-illegal" }));
    expect(outcome).toMatchObject({ ok: false, reason: "invalid_address", providerCode: "isv.MOBILE_NUMBER_ILLEGAL", retryable: false });
  });

  it("maps isv.BUSINESS_LIMIT_CONTROL (per-number flow control) to a retryable rate_limited", async () => {
    fake.perNumberPerMinute = 1;
    await sms.send(message({ to: "13900139000", messageId: "m-l1" }));
    const outcome = await sms.send(message({ to: "13900139000", messageId: "m-l2" }));
    expect(outcome).toMatchObject({ ok: false, reason: "rate_limited", retryable: true, retryAfterMs: 60_000, providerCode: "isv.BUSINESS_LIMIT_CONTROL" });
  });

  it("maps isv.AMOUNT_NOT_ENOUGH to quota_exceeded", async () => {
    fake.balance = 0;
    const outcome = await sms.send(message({ messageId: "m-poor" }));
    expect(outcome).toMatchObject({ ok: false, reason: "quota_exceeded", retryable: false, providerCode: "isv.AMOUNT_NOT_ENOUGH" });
  });

  it("maps gateway throttling (Throttling.User, HTTP 400) and 503 to retryable failures", async () => {
    fake.queueFaults("Throttling.User", "ServiceUnavailable");
    expect(await sms.send(message({ messageId: "m-thr" }))).toMatchObject({ ok: false, reason: "rate_limited", retryable: true });
    expect(await sms.send(message({ messageId: "m-503" }))).toMatchObject({ ok: false, reason: "provider_unavailable", retryable: true });
  });

  it("times out a hung request", async () => {
    fake.queueFaults("hang");
    const outcome = await sms.send(message({ messageId: "m-hang" }));
    expect(outcome).toMatchObject({ ok: false, reason: "timeout", retryable: true });
    fake.releaseHung();
  });

  it("sends batches through SendBatchSms with JSON arrays, one request per template", async () => {
    const before = fake.requests.length;
    const outcomes = await sms.sendBatch([
      message({ to: "13800000001", messageId: "b1", content: { templateCode: "SMS_468000001", templateParams: { name: "甲", amount: "5" } } }),
      message({ to: "+8613800000002", messageId: "b2", content: { templateCode: "SMS_468000001", templateParams: { name: "乙", amount: "6" } } }),
    ]);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    const req = fake.requests[before]!;
    expect(fake.requests.length - before).toBe(1);
    expect(req.action).toBe("SendBatchSms");
    expect(req.signatureValid).toBe(true);
    expect(JSON.parse(req.params.PhoneNumberJson!)).toEqual(["13800000001", "13800000002"]);
    expect(JSON.parse(req.params.SignNameJson!)).toEqual(["路标商城", "路标商城"]);
    expect(JSON.parse(req.params.TemplateParamJson!)).toEqual([{ name: "甲", amount: "5" }, { name: "乙", amount: "6" }]);
  });

  it("falls back to single sends when one number sinks a batch", async () => {
    const outcomes = await sms.sendBatch([
      message({ to: "13800000003", messageId: "c1" }),
      message({ to: "999", messageId: "c2" }),
    ]);
    expect(outcomes.map((o) => (o.ok ? "ok" : o.reason))).toEqual(["ok", "invalid_address"]);
  });

  it("polls delivery receipts with QuerySendDetails", async () => {
    fake.receiptFor.set("13700137000", "DELIVERED");
    fake.receiptFor.set("13700137001", "MK:0001");
    const ok = await sms.send(message({ to: "13700137000", messageId: "m-r1" }));
    await sms.send(message({ to: "13700137001", messageId: "m-r2" }));
    const delivered = await sms.queryDetails("13700137000", new Date(), ok.ok ? ok.providerMessageId : undefined);
    expect(delivered).toEqual([expect.objectContaining({ phone: "13700137000", outId: "m-r1", state: "delivered", errCode: "DELIVERED" })]);
    const failed = await sms.queryDetails("+86 13700137001", new Date());
    expect(failed).toEqual([expect.objectContaining({ outId: "m-r2", state: "failed", errCode: "MK:0001", reason: "not_delivered" })]);
    expect(fake.requests.at(-1)!.params).toMatchObject({ PhoneNumber: "13700137001", PageSize: "50", CurrentPage: "1" });
  });
});
