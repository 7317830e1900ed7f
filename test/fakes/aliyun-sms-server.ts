/**
 * A loopback HTTP server answering Alibaba Cloud SMS (Dysmsapi 2017-05-25) RPC calls the way the
 * real endpoint does, for wire tests of the real @alicloud/dysmsapi20170525 client. It verifies
 * the ACS3-HMAC-SHA256 signature independently of the SDK (canonical request → SHA-256 →
 * HMAC-SHA256 with the AccessKey secret), rejects stale dates and reused nonces, and answers
 * SendSms / SendBatchSms / QuerySendDetails, including the business error codes.
 */
import { createHash, createHmac, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface SmsRecordedRequest {
  action: string;
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  /** Query and form parameters merged, decoded. */
  params: Record<string, string>;
  rawBody: string;
  signatureValid: boolean;
}

export interface SmsSent {
  bizId: string;
  phone: string;
  signName: string;
  templateCode: string;
  params: Record<string, string>;
  /** The text the phone shows: 【sign】 + filled template. */
  content: string;
  outId?: string;
  sendDate: Date;
  /** 1 waiting for receipt, 2 failed, 3 delivered — QuerySendDetails' SendStatus. */
  status: 1 | 2 | 3;
  errCode: string;
  receiveDate?: Date;
}

export type SmsFault = "BUSINESS_LIMIT_CONTROL" | "AMOUNT_NOT_ENOUGH" | "Throttling.User" | "ServiceUnavailable" | "hang";

export interface AliyunSmsFake {
  port: number;
  endpoint: string;
  requests: SmsRecordedRequest[];
  sent: SmsSent[];
  /** Templates the account has approved: code → text with ${var} placeholders. */
  templates: Map<string, string>;
  signNames: Set<string>;
  /** Messages left on the account; at 0 every send answers isv.AMOUNT_NOT_ENOUGH. */
  balance: number;
  /** Receipts arrive at once (status 3) unless told otherwise per phone. */
  receiptFor: Map<string, string>;
  /** Per-number limit per minute (Alibaba's default for one template is 1/min); 0 = off. */
  perNumberPerMinute: number;
  queueFaults(...faults: SmsFault[]): void;
  releaseHung(): void;
  close(): Promise<void>;
}

/** RFC 3986 encoding as Alibaba Cloud's canonical query string requires. */
function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, "%20"));
}

function parsePairs(raw: string): Array<[string, string]> {
  if (!raw) return [];
  return raw.split("&").map((pair) => {
    const i = pair.indexOf("=");
    return i < 0 ? [decode(pair), ""] : [decode(pair.slice(0, i)), decode(pair.slice(i + 1))];
  });
}

/**
 * Recomputes the signature from what arrived on the wire:
 *   CanonicalRequest = Method \n URI \n SortedQuery \n CanonicalHeaders \n SignedHeaders \n sha256(body)
 *   StringToSign    = "ACS3-HMAC-SHA256" \n hex(sha256(CanonicalRequest))
 *   Signature       = hex(HMAC-SHA256(secret, StringToSign))
 */
export function verifyAcs3Signature(
  req: { method: string; url: string; headers: IncomingMessage["headers"] },
  rawBody: Buffer,
  secretFor: (accessKeyId: string) => string | undefined,
): { ok: true; accessKeyId: string } | { ok: false; code: string; message: string } {
  const auth = String(req.headers.authorization ?? "");
  const m = /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { ok: false, code: "IncompleteSignature", message: "The request signature does not conform to Aliyun standards." };
  const [, accessKeyId, signedHeaderList, signature] = m as unknown as [string, string, string, string];
  const secret = secretFor(accessKeyId);
  if (secret === undefined) return { ok: false, code: "InvalidAccessKeyId.NotFound", message: "Specified access key is not found." };
  const payloadHash = createHash("sha256").update(rawBody).digest("hex");
  if (req.headers["x-acs-content-sha256"] !== payloadHash) {
    return { ok: false, code: "SignatureDoesNotMatch", message: "The x-acs-content-sha256 does not match the body." };
  }
  const signed = signedHeaderList.split(";");
  for (const required of ["host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"]) {
    if (!signed.includes(required)) return { ok: false, code: "SignatureDoesNotMatch", message: `${required} must be signed.` };
  }
  const url = new URL(req.url, "http://placeholder");
  const canonicalQuery = parsePairs(url.search.slice(1))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
    .join("&");
  const canonicalHeaders = signed.map((h) => `${h}:${String(req.headers[h] ?? "").trim()}\n`).join("");
  const canonicalRequest = [req.method, url.pathname, canonicalQuery, canonicalHeaders, signed.join(";"), payloadHash].join("\n");
  const stringToSign = `ACS3-HMAC-SHA256\n${createHash("sha256").update(canonicalRequest).digest("hex")}`;
  const expected = createHmac("sha256", secret).update(stringToSign).digest("hex");
  if (expected !== signature) {
    return { ok: false, code: "SignatureDoesNotMatch", message: "Specified signature does not match our calculation." };
  }
  return { ok: true, accessKeyId };
}

const MOBILE = /^(?:\+?86|0086)?1[3-9]\d{9}$/;

function fmt(d: Date): string {
  // Alibaba answers in Beijing time, "yyyy-MM-dd HH:mm:ss".
  return new Date(d.getTime() + 8 * 3600_000).toISOString().replace("T", " ").slice(0, 19);
}

export async function startAliyunSmsFake(options: { accessKeyId: string; accessKeySecret: string }): Promise<AliyunSmsFake> {
  const requests: SmsRecordedRequest[] = [];
  const sent: SmsSent[] = [];
  const nonces = new Set<string>();
  const queued: SmsFault[] = [];
  const hung: Array<() => void> = [];
  const perMinute = new Map<string, number[]>();

  const fake: AliyunSmsFake = {
    port: 0,
    endpoint: "",
    requests,
    sent,
    templates: new Map(),
    signNames: new Set(),
    balance: Number.POSITIVE_INFINITY,
    receiptFor: new Map(),
    perNumberPerMinute: 0,
    queueFaults: (...faults) => queued.push(...faults),
    releaseHung: () => hung.splice(0).forEach((f) => f()),
    close: async () => {
      hung.length = 0;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const requestId = () => randomUUID().toUpperCase();
  const json = (res: ServerResponse, status: number, body: Record<string, unknown>) => {
    res.writeHead(status, { "content-type": "application/json;charset=utf-8" });
    res.end(JSON.stringify({ RequestId: requestId(), ...body }));
  };
  const business = (res: ServerResponse, code: string, message: string) => json(res, 200, { Code: code, Message: message });

  /** Validates one recipient's send; returns an error [code, message] or null. */
  const check = (phone: string, signName: string, templateCode: string, params: Record<string, string>): [string, string] | null => {
    if (!MOBILE.test(phone)) return ["isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"];
    if (!fake.signNames.has(signName)) return ["isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名"];
    const template = fake.templates.get(templateCode);
    if (template === undefined) return ["isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板"];
    for (const [, name] of template.matchAll(/\$\{(\w+)\}/g)) {
      if (params[name!] === undefined) return ["isv.TEMPLATE_MISSING_PARAMETERS", `模板变量缺少对应参数值: ${name}`];
      if ([...params[name!]!].length > 35) return ["isv.PARAM_LENGTH_LIMIT", "参数超出长度限制"];
    }
    return null;
  };

  const record = (phone: string, signName: string, templateCode: string, params: Record<string, string>, bizId: string, outId?: string) => {
    const text = fake.templates.get(templateCode)!.replace(/\$\{(\w+)\}/g, (_, n: string) => params[n] ?? "");
    const receipt = fake.receiptFor.get(phone) ?? "DELIVERED";
    const now = new Date();
    sent.push({
      bizId,
      phone,
      signName,
      templateCode,
      params,
      content: `【${signName}】${text}`,
      outId,
      sendDate: now,
      status: receipt === "PENDING" ? 1 : receipt === "DELIVERED" ? 3 : 2,
      errCode: receipt === "PENDING" ? "" : receipt,
      receiveDate: receipt === "PENDING" ? undefined : now,
    });
  };

  const limited = (phone: string): boolean => {
    if (!fake.perNumberPerMinute) return false;
    const now = Date.now();
    const recent = (perMinute.get(phone) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= fake.perNumberPerMinute) return true;
    recent.push(now);
    perMinute.set(phone, recent);
    return false;
  };

  const handle = (req: IncomingMessage, res: ServerResponse, rawBody: Buffer) => {
    const url = new URL(req.url ?? "/", "http://placeholder");
    const params: Record<string, string> = Object.fromEntries(parsePairs(url.search.slice(1)));
    if (String(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
      Object.assign(params, Object.fromEntries(parsePairs(rawBody.toString("utf8"))));
    }
    const action = String(req.headers["x-acs-action"] ?? "");
    const verdict = verifyAcs3Signature({ method: req.method!, url: req.url!, headers: req.headers }, rawBody, (id) =>
      id === options.accessKeyId ? options.accessKeySecret : undefined,
    );
    requests.push({ action, method: req.method!, path: req.url!, headers: req.headers, params, rawBody: rawBody.toString("utf8"), signatureValid: verdict.ok });
    if (!verdict.ok) return json(res, verdict.code === "InvalidAccessKeyId.NotFound" ? 404 : 400, { Code: verdict.code, Message: verdict.message, HostId: "dysmsapi.aliyuncs.com" });
    const date = Date.parse(String(req.headers["x-acs-date"]));
    if (!Number.isFinite(date) || Math.abs(Date.now() - date) > 15 * 60_000) {
      return json(res, 400, { Code: "InvalidTimeStamp.Expired", Message: "Specified time stamp or date value is expired." });
    }
    const nonce = String(req.headers["x-acs-signature-nonce"]);
    if (nonces.has(nonce)) return json(res, 400, { Code: "SignatureNonceUsed", Message: "Specified signature nonce was used already." });
    nonces.add(nonce);
    if (req.headers["x-acs-version"] !== "2017-05-25") return json(res, 400, { Code: "InvalidVersion", Message: "Specified parameter Version is not valid." });

    if (action === "SendSms" || action === "SendBatchSms") {
      const fault = queued.shift();
      if (fault === "hang") {
        hung.push(() => business(res, "isp.SYSTEM_ERROR", "the request was abandoned by the client"));
        return;
      }
      if (fault === "Throttling.User") return json(res, 400, { Code: "Throttling.User", Message: "Request was denied due to user flow control." });
      if (fault === "ServiceUnavailable") return json(res, 503, { Code: "ServiceUnavailable", Message: "The request has failed due to a temporary failure of the server." });
      if (fault === "BUSINESS_LIMIT_CONTROL") return business(res, "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1");
      if (fault === "AMOUNT_NOT_ENOUGH") return business(res, "isv.AMOUNT_NOT_ENOUGH", "账户余额不足");

      let recipients: Array<{ phone: string; signName: string; params: Record<string, string> }>;
      try {
        if (action === "SendSms") {
          const templateParams = params.TemplateParam ? (JSON.parse(params.TemplateParam) as Record<string, string>) : {};
          recipients = (params.PhoneNumbers ?? "").split(",").filter(Boolean).map((phone) => ({ phone, signName: params.SignName ?? "", params: templateParams }));
        } else {
          const phones = JSON.parse(params.PhoneNumberJson ?? "[]") as string[];
          const signs = JSON.parse(params.SignNameJson ?? "[]") as string[];
          const paramList = params.TemplateParamJson ? (JSON.parse(params.TemplateParamJson) as Record<string, string>[]) : [];
          if (signs.length !== phones.length || (paramList.length && paramList.length !== phones.length)) {
            return business(res, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值");
          }
          recipients = phones.map((phone, i) => ({ phone, signName: signs[i]!, params: paramList[i] ?? {} }));
        }
      } catch {
        return business(res, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值");
      }
      if (recipients.length === 0) return business(res, "isv.INVALID_PARAMETERS", "参数异常");
      if (recipients.length > 1000 || (action === "SendBatchSms" && recipients.length > 100)) {
        return business(res, "isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制");
      }
      for (const r of recipients) {
        const error = check(r.phone, r.signName, params.TemplateCode ?? "", r.params);
        if (error) return business(res, error[0], error[1]);
      }
      if (fake.balance < recipients.length) return business(res, "isv.AMOUNT_NOT_ENOUGH", "账户余额不足");
      if (recipients.some((r) => limited(r.phone))) return business(res, "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1");
      fake.balance -= recipients.length;
      const bizId = `${Date.now()}${Math.floor(Math.random() * 1e6).toString().padStart(6, "0")}^0`;
      for (const r of recipients) record(r.phone, r.signName, params.TemplateCode!, r.params, bizId, params.OutId);
      return json(res, 200, { Code: "OK", Message: "OK", BizId: bizId });
    }

    if (action === "QuerySendDetails") {
      const phone = params.PhoneNumber ?? "";
      const day = params.SendDate ?? "";
      if (!phone || !/^\d{8}$/.test(day)) return business(res, "isv.INVALID_PARAMETERS", "参数异常");
      const pageSize = Number(params.PageSize ?? 10);
      const page = Number(params.CurrentPage ?? 1);
      const matching = sent.filter(
        (s) => s.phone === phone && fmt(s.sendDate).slice(0, 10).replace(/-/g, "") === day && (!params.BizId || s.bizId === params.BizId),
      );
      const slice = matching.slice((page - 1) * pageSize, page * pageSize);
      return json(res, 200, {
        Code: "OK",
        Message: "OK",
        TotalCount: matching.length,
        SmsSendDetailDTOs: {
          SmsSendDetailDTO: slice.map((s) => ({
            PhoneNum: s.phone,
            SendStatus: s.status,
            ErrCode: s.errCode,
            TemplateCode: s.templateCode,
            Content: s.content,
            SendDate: fmt(s.sendDate),
            ReceiveDate: s.receiveDate ? fmt(s.receiveDate) : "",
            OutId: s.outId ?? "",
          })),
        },
      });
    }
    return json(res, 404, { Code: "InvalidAction.NotFound", Message: `Specified api is not found, please check your url and method.` });
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handle(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.port = (server.address() as AddressInfo).port;
  fake.endpoint = `127.0.0.1:${fake.port}`;
  return fake;
}
