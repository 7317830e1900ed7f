/**
 * Asynchronous bounces: a delivery status notification (RFC 3464) that the return-path mailbox or
 * the relay's webhook hands us after the SMTP session ended. We only need three things from it:
 * which of our messages bounced, for which recipient, and whether the failure is permanent.
 */

export interface Bounce {
  /** Our message id, from the X-Waypost-Message-Id header of the returned original. */
  messageId: string;
  recipient?: string;
  /** 5.x.x: the address will never accept (suppress it); 4.x.x: a delay, nothing to record. */
  permanent: boolean;
  status?: string;
  diagnostic?: string;
}

function field(text: string, name: string): string | undefined {
  const m = new RegExp(`^${name}:[ \\t]*(.+(?:\\r?\\n[ \\t]+.+)*)`, "im").exec(text);
  return m ? m[1]!.replace(/\r?\n[ \t]+/g, " ").trim() : undefined;
}

/** Parses a raw DSN email; null when it is not a bounce of one of our messages. */
export function parseBounce(raw: string): Bounce | null {
  const messageId = field(raw, "X-Waypost-Message-Id");
  const status = field(raw, "Status");
  if (!messageId || !status) return null;
  const recipient = field(raw, "Final-Recipient")?.replace(/^rfc822;\s*/i, "");
  return {
    messageId,
    recipient,
    permanent: status.startsWith("5"),
    status,
    diagnostic: field(raw, "Diagnostic-Code")?.replace(/^smtp;\s*/i, ""),
  };
}
