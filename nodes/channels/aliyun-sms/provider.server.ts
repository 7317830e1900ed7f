import Dysmsapi, { QuerySendDetailsRequest, SendBatchSmsRequest, SendSmsRequest } from "@alicloud/dysmsapi20170525";
import { $OpenApiUtil } from "@alicloud/openapi-core";
import { failure, type ChannelProvider, type OutboundMessage, type ProviderOutcome } from "../provider";
import { normalisePhone } from "../phone";
import { mapAliyunCode, type SmsReceipt, receiptFromDetail } from "./codes";

export interface AliyunSmsConfig {
  accessKeyId: string;
  accessKeySecret: string;
  /** Default signature (短信签名); a node may override it per message. */
  signName: string;
  /** dysmsapi.aliyuncs.com unless told otherwise (tests: 127.0.0.1:PORT over http). */
  endpoint?: string;
  protocol?: "https" | "http";
  timeoutMs?: number;
}

// Node's ESM loader hands a CommonJS module's exports object to `import X from`, bundlers hand
// its `default`: accept both.
const Client = ((Dysmsapi as unknown as { default?: typeof Dysmsapi }).default ?? Dysmsapi) as typeof Dysmsapi;

/** SendBatchSms accepts at most 100 numbers per call. */
const MAX_BATCH = 100;


export interface AliyunSmsProvider extends ChannelProvider {
  /** Delivery receipts for one number on one day (QuerySendDetails), for polling. */
  queryDetails(phone: string, sendDate: Date, bizId?: string): Promise<SmsReceipt[]>;
}

export function createAliyunSmsProvider(config: AliyunSmsConfig): AliyunSmsProvider {
  const timeout = config.timeoutMs ?? 10_000;
  const client = new Client(
    new $OpenApiUtil.Config({
      accessKeyId: config.accessKeyId,
      accessKeySecret: config.accessKeySecret,
      endpoint: config.endpoint ?? "dysmsapi.aliyuncs.com",
      protocol: config.protocol ?? "https",
      readTimeout: timeout,
      connectTimeout: Math.min(timeout, 5_000),
    }),
  );

  const fromError = (error: unknown): ProviderOutcome => {
    const e = error as { code?: string; message?: string; statusCode?: number; name?: string };
    const code = String(e?.code ?? e?.name ?? "unknown");
    if (/timeout/i.test(code) || /timeout/i.test(e?.message ?? "")) {
      // The request may have been accepted before the answer was lost.
      return failure("timeout", { retryable: true, maybeDelivered: true, providerCode: code, detail: e?.message });
    }
    if (["ECONNREFUSED", "ECONNRESET", "EPIPE", "ENOTFOUND", "EAI_AGAIN"].includes(code)) {
      return failure("provider_unavailable", { retryable: true, providerCode: code, detail: e?.message });
    }
    return mapAliyunCode(code, e?.message, e?.statusCode);
  };

  const params = (m: OutboundMessage) => JSON.stringify(m.content.templateParams ?? {});

  const provider: AliyunSmsProvider = {
    id: "aliyun-sms",
    channel: "sms",
    capabilities: { batch: true, maxBatchSize: MAX_BATCH, idempotency: "none", deliveryReports: "poll-and-callback" },
    async send(message) {
      if (!message.content.templateCode) return failure("template_error", { detail: "an Alibaba Cloud SMS needs a template code" });
      try {
        const response = await client.sendSms(
          new SendSmsRequest({
            phoneNumbers: normalisePhone(message.to),
            signName: message.content.signName ?? config.signName,
            templateCode: message.content.templateCode,
            templateParam: params(message),
            // OutId comes back in receipts and the report callback: it ties them to our message.
            outId: message.messageId,
          }),
        );
        const body = response.body;
        if (body?.code === "OK") return { ok: true, providerMessageId: body.bizId!, state: "sent" };
        return mapAliyunCode(body?.code ?? "unknown", body?.message);
      } catch (error) {
        return fromError(error);
      }
    },
    async sendBatch(messages) {
      // SendBatchSms shares one template and answers for the whole batch: group by template and
      // fall back to single sends when a batch is refused, so one bad number cannot sink the rest.
      const outcomes: ProviderOutcome[] = new Array(messages.length);
      const groups = new Map<string, number[]>();
      messages.forEach((m, i) => {
        const key = m.content.templateCode ?? "";
        groups.set(key, [...(groups.get(key) ?? []), i]);
      });
      for (const [templateCode, indexes] of groups) {
        for (let start = 0; start < indexes.length; start += MAX_BATCH) {
          const chunk = indexes.slice(start, start + MAX_BATCH);
          if (!templateCode || chunk.length === 1) {
            for (const i of chunk) outcomes[i] = await provider.send(messages[i]!);
            continue;
          }
          const batch = chunk.map((i) => messages[i]!);
          let outcome: ProviderOutcome;
          try {
            const response = await client.sendBatchSms(
              new SendBatchSmsRequest({
                phoneNumberJson: JSON.stringify(batch.map((m) => normalisePhone(m.to))),
                signNameJson: JSON.stringify(batch.map((m) => m.content.signName ?? config.signName)),
                templateCode,
                templateParamJson: JSON.stringify(batch.map((m) => m.content.templateParams ?? {})),
                outId: batch[0]!.messageId,
              }),
            );
            const body = response.body;
            outcome = body?.code === "OK" ? { ok: true, providerMessageId: body.bizId!, state: "sent" } : mapAliyunCode(body?.code ?? "unknown", body?.message);
          } catch (error) {
            outcome = fromError(error);
          }
          const perRecipient = !outcome.ok && ["invalid_address", "too_long"].includes(outcome.reason);
          if (perRecipient) {
            for (const i of chunk) outcomes[i] = await provider.send(messages[i]!);
          } else {
            for (const i of chunk) outcomes[i] = outcome;
          }
        }
      }
      return outcomes;
    },
    async queryDetails(phone, sendDate, bizId) {
      const day = new Date(sendDate.getTime() + 8 * 3600_000).toISOString().slice(0, 10).replace(/-/g, "");
      const receipts: SmsReceipt[] = [];
      for (let page = 1; ; page++) {
        const response = await client.querySendDetails(
          new QuerySendDetailsRequest({ phoneNumber: normalisePhone(phone), sendDate: day, bizId, pageSize: 50, currentPage: page }),
        );
        const body = response.body;
        if (body?.code !== "OK") throw new Error(`QuerySendDetails: ${body?.code} ${body?.message}`);
        const rows = body.smsSendDetailDTOs?.smsSendDetailDTO ?? [];
        receipts.push(...rows.map(receiptFromDetail));
        if (rows.length < 50 || receipts.length >= Number(body.totalCount ?? 0)) break;
      }
      return receipts;
    },
  };
  return provider;
}
