/**
 * Alibaba Cloud SMS answers, receipts and callbacks, as pure functions (no SDK), so the report
 * callback route and the poller share one mapping.
 */
import { failure, type FailureReason, type ProviderOutcome } from "../provider";

/** Maps an API error code (HTTP 200 `Code` or a gateway error) onto the taxonomy. */
export function mapAliyunCode(code: string, detail?: string, status?: number): ProviderOutcome {
  const providerCode = code;
  switch (code) {
    case "isv.MOBILE_NUMBER_ILLEGAL":
      return failure("invalid_address", { providerCode, detail });
    case "isv.BUSINESS_LIMIT_CONTROL":
      // Per-number limits (per minute/hour/day): retrying within the minute is pointless.
      return failure("rate_limited", { providerCode, detail, retryable: true, retryAfterMs: 60_000 });
    case "isv.AMOUNT_NOT_ENOUGH":
    case "isv.OUT_OF_SERVICE":
    case "isv.DAY_LIMIT_CONTROL":
    case "isv.MONTH_LIMIT_CONTROL":
      return failure("quota_exceeded", { providerCode, detail });
    case "isv.PARAM_LENGTH_LIMIT":
    case "isv.CONTENT_LENGTH_LIMIT":
      return failure("too_long", { providerCode, detail });
    case "isv.TEMPLATE_MISSING_PARAMETERS":
    case "isv.SMS_TEMPLATE_ILLEGAL":
      return failure("template_error", { providerCode, detail });
    case "isv.BLACK_KEY_CONTROL_LIMIT":
    case "isv.SMS_SIGNATURE_ILLEGAL":
    case "isv.SMS_CONTENT_ILLEGAL":
    case "isv.INVALID_PARAMETERS":
    case "isv.INVALID_JSON_PARAM":
    case "isv.MOBILE_COUNT_OVER_LIMIT":
    case "SignatureDoesNotMatch":
    case "InvalidAccessKeyId.NotFound":
    case "IncompleteSignature":
      return failure("provider_rejected", { providerCode, detail });
    case "isp.SYSTEM_ERROR":
    case "ServiceUnavailable":
    case "InternalError":
      return failure("provider_unavailable", { providerCode, detail, retryable: true });
  }
  if (code.startsWith("Throttling")) return failure("rate_limited", { providerCode, detail, retryable: true, retryAfterMs: 1_000 });
  if (status !== undefined && status >= 500) return failure("provider_unavailable", { providerCode, detail, retryable: true });
  return failure("provider_rejected", { providerCode, detail });
}

/** One delivery receipt, from QuerySendDetails or the SmsReport callback. */
export interface SmsReceipt {
  phone: string;
  /** Our message id, echoed back as OutId. */
  outId?: string;
  bizId?: string;
  state: "pending" | "delivered" | "failed";
  errCode?: string;
  reason?: FailureReason;
  receivedAt?: Date;
}

/** Alibaba timestamps are Beijing time without a zone. */
export function parseBeijingTime(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(value.trim());
  if (!m) return undefined;
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`);
}

export function receiptFromDetail(detail: {
  phoneNum?: string;
  sendStatus?: number;
  errCode?: string;
  outId?: string;
  receiveDate?: string;
}): SmsReceipt {
  const state = detail.sendStatus === 3 ? "delivered" : detail.sendStatus === 2 ? "failed" : "pending";
  return {
    phone: detail.phoneNum ?? "",
    outId: detail.outId || undefined,
    state,
    errCode: detail.errCode || undefined,
    reason: state === "failed" ? "not_delivered" : undefined,
    receivedAt: parseBeijingTime(detail.receiveDate),
  };
}

/**
 * The SmsReport callback body: a JSON array of
 * { phone_number, send_time, report_time, success, err_code, err_msg, sms_size, biz_id, out_id }.
 * Alibaba expects {"code":0,"msg":"成功"} back, or it retries.
 */
export function parseReportCallback(body: unknown): SmsReceipt[] {
  if (!Array.isArray(body)) throw new Error("SmsReport callback body must be a JSON array");
  return body.map((item) => {
    const r = item as Record<string, unknown>;
    const success = r.success === true || r.success === "true";
    return {
      phone: String(r.phone_number ?? ""),
      outId: r.out_id ? String(r.out_id) : undefined,
      bizId: r.biz_id ? String(r.biz_id) : undefined,
      state: success ? "delivered" : "failed",
      errCode: r.err_code ? String(r.err_code) : undefined,
      reason: success ? undefined : "not_delivered",
      receivedAt: parseBeijingTime(typeof r.report_time === "string" ? r.report_time : undefined),
    };
  });
}

export const CALLBACK_ACK = { code: 0, msg: "成功" } as const;

export interface UpstreamReply {
  phone: string;
  content: string;
  signName?: string;
  receivedAt?: Date;
  /** The reply asks to stop marketing SMS (回TD退订). */
  optOut: boolean;
}

/**
 * Replies that mean "unsubscribe". Carriers and Alibaba treat TD/T/退订 (and N/STOP abroad) as
 * opt-outs; we also accept them with punctuation, in full-width letters or lower case, and
 * sentences that contain 退订 ("我要退订"), because that is how people actually type them.
 */
const OPT_OUT_WORDS = new Set(["TD", "T", "N", "STOP", "UNSUBSCRIBE", "QX", "退订", "退", "取消", "取消订阅", "退订短信"]);

export function isOptOutReply(content: string): boolean {
  const normalised = content
    .normalize("NFKC")
    .trim()
    .toUpperCase()
    .replace(/[\s.,!?;:'"`~，。！？；：、“”‘’]+/g, "");
  if (OPT_OUT_WORDS.has(normalised)) return true;
  return normalised.includes("退订");
}

/**
 * The SmsUp callback body: a JSON array of
 * { phone_number, send_time, content, sign_name, dest_code, sequence_id }.
 */
export function parseUpstreamCallback(body: unknown): UpstreamReply[] {
  if (!Array.isArray(body)) throw new Error("SmsUp callback body must be a JSON array");
  return body.map((item) => {
    const r = item as Record<string, unknown>;
    const content = String(r.content ?? "");
    return {
      phone: String(r.phone_number ?? ""),
      content,
      signName: r.sign_name ? String(r.sign_name) : undefined,
      receivedAt: parseBeijingTime(typeof r.send_time === "string" ? r.send_time : undefined),
      optOut: isOptOutReply(content),
    };
  });
}
