import { describe, expect, it } from "vitest";
import { isOptOutReply, mapAliyunCode, parseReportCallback, parseUpstreamCallback } from "./codes";

describe("SMS replies", () => {
  it.each(["TD", "td", " T ", "退订", "ＴＤ", "TD。", "我要退订", "N", "stop", "取消"])("%j is an opt-out", (reply) => {
    expect(isOptOutReply(reply)).toBe(true);
  });
  it.each(["好的", "TDD", "谢谢", "1", "Thanks"])("%j is not", (reply) => {
    expect(isOptOutReply(reply)).toBe(false);
  });

  it("parses the SmsUp callback", () => {
    const replies = parseUpstreamCallback([
      { phone_number: "13800138000", send_time: "2024-05-01 10:00:00", content: "TD", sign_name: "路标商城", dest_code: "1234", sequence_id: 9 },
      { phone_number: "13800138001", send_time: "2024-05-01 10:00:01", content: "收到", sign_name: "路标商城", dest_code: "1234", sequence_id: 10 },
    ]);
    expect(replies).toEqual([
      { phone: "13800138000", content: "TD", signName: "路标商城", receivedAt: new Date("2024-05-01T02:00:00Z"), optOut: true },
      { phone: "13800138001", content: "收到", signName: "路标商城", receivedAt: new Date("2024-05-01T02:00:01Z"), optOut: false },
    ]);
  });
});

describe("SMS receipts", () => {
  it("parses the SmsReport callback", () => {
    const receipts = parseReportCallback([
      { phone_number: "13800138000", send_time: "2024-05-01 10:00:00", report_time: "2024-05-01 10:00:05", success: true, err_code: "DELIVERED", err_msg: "用户接收成功", sms_size: "1", biz_id: "123^0", out_id: "msg-1" },
      { phone_number: "13800138001", send_time: "2024-05-01 10:00:00", report_time: "2024-05-01 10:00:09", success: false, err_code: "MK:0001", err_msg: "", sms_size: "2", biz_id: "124^0", out_id: "msg-2" },
    ]);
    expect(receipts[0]).toMatchObject({ outId: "msg-1", state: "delivered", receivedAt: new Date("2024-05-01T02:00:05Z") });
    expect(receipts[1]).toMatchObject({ outId: "msg-2", state: "failed", reason: "not_delivered", errCode: "MK:0001" });
    expect(() => parseReportCallback({})).toThrow();
  });

  it("maps provider codes onto the taxonomy", () => {
    expect(mapAliyunCode("isv.DAY_LIMIT_CONTROL")).toMatchObject({ reason: "quota_exceeded" });
    expect(mapAliyunCode("isv.TEMPLATE_MISSING_PARAMETERS")).toMatchObject({ reason: "template_error" });
    expect(mapAliyunCode("Throttling.Api")).toMatchObject({ reason: "rate_limited", retryable: true });
    expect(mapAliyunCode("Something.New", undefined, 502)).toMatchObject({ reason: "provider_unavailable", retryable: true });
    expect(mapAliyunCode("Something.New")).toMatchObject({ reason: "provider_rejected", retryable: false });
  });
});
