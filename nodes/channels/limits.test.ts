import { describe, expect, it } from "vitest";
import { applyLengthRules, charCount, countSms, truncateText, SMS_PARAM_MAX_CHARS } from "./limits";

describe("SMS counting like Alibaba Cloud", () => {
  it("counts the signature with its 【】 and splits long SMS into 67-character parts", () => {
    expect(countSms("a".repeat(63), "路标商城")).toEqual({ chars: 69, parts: 1 });
    expect(countSms("a".repeat(64), "路标商城")).toEqual({ chars: 70, parts: 1 });
    expect(countSms("a".repeat(65), "路标商城")).toEqual({ chars: 71, parts: 2 });
    expect(countSms("中".repeat(134))).toEqual({ chars: 134, parts: 2 });
    expect(countSms("中".repeat(135))).toEqual({ chars: 135, parts: 3 });
    expect(countSms("")).toEqual({ chars: 0, parts: 0 });
  });

  it("counts combining marks with their base, whatever the script", () => {
    expect(charCount("か\u3099")).toBe(1); // decomposed が
    expect(charCount("e\u0301")).toBe(1);
    expect(charCount("ｶﾞ")).toBe(1); // half-width ka + voiced mark
    expect(charCount("中文 ABC，！")).toBe(8);
  });

  it("counts an emoji or a flag as one character and never splits one when truncating", () => {
    expect(charCount("👍🏽🇨🇳a")).toBe(3);
    expect(truncateText("ab👍🏽cd", 4)).toBe("ab👍🏽…");
    expect(truncateText("short", 10)).toBe("short");
  });
});

describe("length rules", () => {
  it("truncates push copy when allowed and reports it", () => {
    const result = applyLengthRules("push", { title: "标".repeat(60), body: "ok" }, { truncate: true });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(charCount(result.content.title!)).toBe(50);
    expect(result.content.title!.endsWith("…")).toBe(true);
    expect(result.truncations).toEqual([{ field: "title", length: 60, limit: 50, truncated: true }]);
  });

  it("refuses over-length copy with too_long details when truncation is off", () => {
    expect(applyLengthRules("email", { subject: "s".repeat(151) }, { truncate: false })).toEqual({
      ok: false,
      issue: { field: "subject", length: 151, limit: 150, truncated: false },
    });
  });

  it("refuses a push whose data payload exceeds FCM's 4 KB, even with truncation on", () => {
    const result = applyLengthRules("push", { body: "x", data: { blob: "y".repeat(5000) } }, { truncate: true });
    expect(result).toMatchObject({ ok: false, issue: { field: "data" } });
  });

  it("fills an SMS template, counts the shown text and limits parts", () => {
    const content = { body: "${name}，送你${amount}元红包 回TD退订", templateCode: "SMS_1", templateParams: { name: "小明", amount: "10" }, signName: "路标商城" };
    const ok = applyLengthRules("sms", content, { truncate: false });
    expect(ok).toMatchObject({ ok: true, content: { body: "小明，送你10元红包 回TD退订" }, sms: { parts: 1 } });
    const long = { ...content, body: "${name}" + "长".repeat(100) };
    expect(applyLengthRules("sms", long, { truncate: true, smsMaxParts: 1 })).toMatchObject({ ok: false, issue: { field: "body", limit: 70 } });
    expect(applyLengthRules("sms", long, { truncate: false, smsMaxParts: 2 })).toMatchObject({ ok: true, sms: { parts: 2 } });
  });

  it("cuts template variables to Alibaba's per-variable limit only when allowed", () => {
    const content = { body: "${v}", templateCode: "SMS_1", templateParams: { v: "字".repeat(40) } };
    expect(applyLengthRules("sms", content, { truncate: false })).toMatchObject({ ok: false, issue: { field: "templateParams", limit: SMS_PARAM_MAX_CHARS } });
    const cut = applyLengthRules("sms", content, { truncate: true });
    expect(cut.ok && charCount(cut.content.templateParams!.v!)).toBe(SMS_PARAM_MAX_CHARS);
  });

  it("truncates free-text SMS (sandbox) to the part limit, signature included", () => {
    const cut = applyLengthRules("sms", { body: "a".repeat(100), signName: "WP" }, { truncate: true, smsMaxParts: 1 });
    expect(cut).toMatchObject({ ok: true, sms: { chars: 70, parts: 1 } });
  });
});
