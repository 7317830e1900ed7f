/**
 * A loopback SMTP server (the `smtp-server` package) that captures what nodemailer sends and can
 * answer like a real MTA that refuses a recipient (550), is busy (421/451) or stalls.
 */
import type { AddressInfo } from "node:net";
import { SMTPServer, type SMTPServerSession } from "smtp-server";

export interface CapturedMail {
  envelope: { from: string; to: string[] };
  raw: string;
  /** Header names lower-cased, folded lines joined. */
  headers: Record<string, string>;
  /** Decoded text/plain and text/html parts. */
  text?: string;
  html?: string;
}

type Verdict = { code: number; message: string } | "hang";

export interface SmtpFake {
  port: number;
  mails: CapturedMail[];
  /** Recipient address → answer to RCPT TO (e.g. 550 mailbox unavailable). */
  rejectRecipient: Map<string, { code: number; message: string }>;
  /** The next N DATA commands are answered like this instead of 250. */
  queueDataFaults(...verdicts: Verdict[]): void;
  close(): Promise<void>;
}

function smtpError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of block.replace(/\r\n[ \t]+/g, " ").split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return headers;
}

function decodeQuotedPrintable(body: string): string {
  const bytes = body
    .replace(/=\r\n/g, "")
    .replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, "latin1").toString("utf8");
}

function decodePart(headers: Record<string, string>, body: string): string {
  const encoding = (headers["content-transfer-encoding"] ?? "7bit").toLowerCase();
  if (encoding === "base64") return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  if (encoding === "quoted-printable") return decodeQuotedPrintable(body);
  return body;
}

/** Enough MIME to read back what nodemailer wrote: nested multiparts, QP and base64 parts. */
function collectParts(headers: Record<string, string>, body: string, into: CapturedMail): void {
  const type = headers["content-type"] ?? "text/plain";
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (type.startsWith("multipart/") && boundary) {
    for (const chunk of body.split(`--${boundary}`).slice(1)) {
      if (chunk.startsWith("--")) break;
      const part = chunk.replace(/^\r\n/, "");
      const split = part.indexOf("\r\n\r\n");
      collectParts(parseHeaders(part.slice(0, split)), part.slice(split + 4).replace(/\r\n$/, ""), into);
    }
    return;
  }
  if (type.startsWith("text/html")) into.html = decodePart(headers, body);
  else if (type.startsWith("text/plain")) into.text = decodePart(headers, body);
}

export async function startSmtpFake(): Promise<SmtpFake> {
  const mails: CapturedMail[] = [];
  const rejectRecipient = new Map<string, { code: number; message: string }>();
  const dataFaults: Verdict[] = [];

  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    // Pooled client connections stay open; do not let them hold close() for the default 30 s.
    closeTimeout: 200,
    onRcptTo(address, _session, callback) {
      const verdict = rejectRecipient.get(address.address);
      if (verdict) return callback(smtpError(verdict.code, verdict.message));
      callback();
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const fault = dataFaults.shift();
        if (fault === "hang") return; // never answer: the client must time out
        if (fault) return callback(smtpError(fault.code, fault.message));
        const raw = Buffer.concat(chunks).toString("utf8");
        const split = raw.indexOf("\r\n\r\n");
        const headers = parseHeaders(raw.slice(0, split));
        const mail: CapturedMail = {
          envelope: {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            to: session.envelope.rcptTo.map((r) => r.address),
          },
          raw,
          headers,
        };
        collectParts(headers, raw.slice(split + 4), mail);
        mails.push(mail);
        callback(null, "2.0.0 Ok: queued");
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    mails,
    rejectRecipient,
    queueDataFaults: (...v) => dataFaults.push(...v),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
