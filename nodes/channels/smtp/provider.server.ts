import { createHash } from "node:crypto";
import { connect, type Socket } from "node:net";
import nodemailer, { type Transporter } from "nodemailer";
import type SMTPPool from "nodemailer/lib/smtp-pool";
import { resolveAllowed, type DestinationPolicy } from "../../net/outbound.server";
import { failure, type ChannelProvider, type OutboundMessage, type ProviderOutcome, sendEachInParallel } from "../provider";
import { htmlToText } from "./tracking.server";

export interface SmtpConfig {
  host: string;
  port: number;
  /** TLS from the first byte (465); otherwise STARTTLS when the server offers it. */
  secure?: boolean;
  auth?: { user: string; pass: string };
  /** "Name <address>" or an address. */
  from: string;
  /** Domain of our Message-IDs; the sender's domain by default. */
  messageIdDomain?: string;
  timeoutMs?: number;
  /** Connections kept open for throughput. */
  maxConnections?: number;
  /** Tests on loopback use a server without a certificate. */
  allowInsecureTls?: boolean;
  /**
   * The outbound-request guard's policy: when set, every connection goes to an address the guard
   * checked for `host` (nodemailer's getSocket), never to one nodemailer resolves on its own.
   */
  outbound?: DestinationPolicy;
}

/** nodemailer's getSocket: open the TCP connection ourselves, to a checked address. */
function guardedSocket(config: SmtpConfig, policy: DestinationPolicy, timeoutMs: number) {
  return (_options: unknown, callback: (error: Error | null, socketOptions?: { connection: Socket }) => void): void => {
    resolveAllowed(config.host, policy).then(
      (addresses) => {
        const socket = connect({ host: addresses[0]!.address, port: config.port });
        const fail = (error: Error) => {
          socket.destroy();
          callback(error);
        };
        socket.setTimeout(timeoutMs, () => fail(Object.assign(new Error("Connection timeout"), { code: "ETIMEDOUT" })));
        socket.once("error", fail);
        socket.once("connect", () => {
          socket.setTimeout(0);
          socket.off("error", fail);
          callback(null, { connection: socket });
        });
      },
      (error: Error) => callback(error),
    );
  };
}

/**
 * Message-ID derived from the idempotency key: a retry after an unknown outcome produces the same
 * Message-ID, and mail systems (Gmail among them) drop a second copy with an ID they have seen.
 */
export function messageIdFor(idempotencyKey: string, domain: string): string {
  return `<${createHash("sha256").update(idempotencyKey).digest("hex").slice(0, 32)}@${domain}>`;
}

/** Maps nodemailer/SMTP errors: 5xx on a recipient is a hard bounce, 4xx is "try later". */
export function mapSmtpError(error: unknown): ProviderOutcome {
  const e = error as { code?: string; responseCode?: number; response?: string; message?: string; command?: string };
  const code = e?.responseCode;
  const providerCode = code ? String(code) : e?.code;
  const detail = e?.response ?? e?.message;
  if (e?.code === "ETIMEDOUT") return failure("timeout", { retryable: true, maybeDelivered: true, providerCode, detail });
  if (e?.code === "ECONNECTION" || e?.code === "ESOCKET" || e?.code === "ECONNREFUSED") {
    return failure("provider_unavailable", { retryable: true, providerCode, detail });
  }
  if (e?.code === "EAUTH") return failure("provider_rejected", { providerCode, detail });
  if (code !== undefined) {
    if (code >= 400 && code < 500) return failure("provider_unavailable", { retryable: true, retryAfterMs: 60_000, providerCode, detail });
    if (code >= 500) {
      // A recipient refused at RCPT (550 5.1.1 user unknown) will never accept: suppress it.
      if (e?.command === "RCPT TO" || e?.code === "EENVELOPE") return failure("bounced", { providerCode, detail, retireAddress: true });
      return failure("provider_rejected", { providerCode, detail });
    }
  }
  return failure("provider_rejected", { providerCode, detail });
}

export function createSmtpProvider(config: SmtpConfig): ChannelProvider {
  const timeout = config.timeoutMs ?? 15_000;
  const transport: Transporter = nodemailer.createTransport({
    host: config.host,
    port: config.port,
    secure: config.secure ?? false,
    auth: config.auth,
    pool: true,
    maxConnections: config.maxConnections ?? 4,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    tls: config.allowInsecureTls ? { rejectUnauthorized: false } : undefined,
    ...(config.outbound ? { getSocket: guardedSocket(config, config.outbound, timeout) } : {}),
  } as SMTPPool.Options);
  const fromAddress = /<([^>]+)>/.exec(config.from)?.[1] ?? config.from;
  const domain = config.messageIdDomain ?? fromAddress.split("@")[1] ?? "waypost.local";

  const provider: ChannelProvider = {
    id: "smtp",
    channel: "email",
    capabilities: { batch: false, maxBatchSize: 1, idempotency: "message-id", deliveryReports: "bounce-only" },
    async send(message: OutboundMessage) {
      const { subject, html, text } = message.content;
      try {
        const info = await transport.sendMail({
          from: config.from,
          to: message.to,
          subject: subject ?? "",
          html,
          text: text ?? (html ? htmlToText(html) : undefined),
          messageId: messageIdFor(message.idempotencyKey, domain),
          headers: { ...(message.headers ?? {}), "X-Waypost-Message-Id": message.messageId },
        });
        if (info.rejected?.length) return failure("bounced", { providerCode: "550", detail: info.response, retireAddress: true });
        return { ok: true, providerMessageId: info.messageId, state: "sent" };
      } catch (error) {
        return mapSmtpError(error);
      }
    },
    sendBatch: (messages) => sendEachInParallel(provider, messages, config.maxConnections ?? 4),
    async close() {
      transport.close();
    },
  };
  return provider;
}
