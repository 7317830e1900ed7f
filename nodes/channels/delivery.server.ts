/**
 * Everything that happens to a message after the send: email open/click/unsubscribe hits, Alibaba
 * Cloud SMS report and reply callbacks, and receipt polling. The HTTP routes (app/routes, a later
 * phase) only parse the request and call these.
 */
import { sql } from "drizzle-orm";
import { query, type Db } from "../../db/client";
import type { AliyunSmsProvider } from "./aliyun-sms/provider.server";
import { CALLBACK_ACK, parseReportCallback, parseUpstreamCallback, type SmsReceipt } from "./aliyun-sms/codes";
import type { ProviderResolver } from "./settings.server";
import type { MessagingService } from "./send.server";
import { parseBounce } from "./smtp/bounce";
import { parseTrackingPath } from "./smtp/tracking.server";
import * as store from "./store.server";

/** A transparent 1×1 GIF, the smallest image every mail client loads. */
export const PIXEL_GIF = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");

export type TrackingAnswer =
  | { status: 200; kind: "open"; body: Buffer; contentType: "image/gif" }
  | { status: 302; kind: "click"; location: string }
  | { status: 200; kind: "unsubscribe" }
  | { status: 400 }
  | { status: 404 };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface DeliveryDeps {
  db: Db;
  messaging: MessagingService;
  providers: ProviderResolver;
  trackingSecret: string | (() => string);
  now?: () => Date;
}

export function createDeliveryHandlers(deps: DeliveryDeps) {
  const now = deps.now ?? (() => new Date());
  const secret = () => (typeof deps.trackingSecret === "function" ? deps.trackingSecret() : deps.trackingSecret);

  /**
   * GET/POST /t/{o|c|u}/{token}. Forged or edited links get 400 and record nothing (a click never
   * redirects anywhere its signature does not cover); a genuine link to a deleted message, 404.
   */
  async function trackingHit(path: string): Promise<TrackingAnswer> {
    const payload = parseTrackingPath(secret(), path);
    if (!payload || !UUID.test(payload.messageId)) return { status: 400 };
    const at = now();
    if (payload.kind === "open") {
      await deps.messaging.recordDelivery(payload.messageId, "opened", at);
      return { status: 200, kind: "open", body: PIXEL_GIF, contentType: "image/gif" };
    }
    if (payload.kind === "click") {
      await deps.messaging.recordDelivery(payload.messageId, "clicked", at);
      return { status: 302, kind: "click", location: payload.url! };
    }
    const row = await store.findById(deps.db, payload.messageId);
    if (!row || !row.address) return { status: 404 };
    await deps.messaging.optOut(row.workspace_id, "email", row.address, "list_unsubscribe", { userId: row.user_id, messageId: row.id });
    return { status: 200, kind: "unsubscribe" };
  }

  /**
   * The unsubscribe confirmation page (GET of the List-Unsubscribe URL): checks the link and says
   * whose address it is, without changing anything — link scanners fetch every URL in a mail.
   */
  async function unsubscribePreview(path: string): Promise<{ status: 200; address: string; done: boolean } | { status: 400 | 404 }> {
    const payload = parseTrackingPath(secret(), path);
    if (!payload || payload.kind !== "unsubscribe" || !UUID.test(payload.messageId)) return { status: 400 };
    const row = await store.findById(deps.db, payload.messageId);
    if (!row || !row.address) return { status: 404 };
    const [found] = await query<{ n: number }>(
      deps.db,
      sql`select 1 as n from suppressions where workspace_id = ${row.workspace_id} and channel = 'email' and address = ${row.address.toLowerCase()} limit 1`,
    );
    return { status: 200, address: row.address, done: Boolean(found) };
  }

  async function applyReceipt(receipt: SmsReceipt, candidates: store.MessageRow[]): Promise<boolean> {
    const row = candidates.find((m) => receipt.outId && m.id === receipt.outId) ?? candidates[0];
    if (!row || receipt.state === "pending") return false;
    const at = receipt.receivedAt ?? now();
    const applied =
      receipt.state === "delivered"
        ? await deps.messaging.recordDelivery(row.id, "delivered", at)
        : await deps.messaging.recordDelivery(row.id, "failed", at, { reason: "not_delivered", providerCode: receipt.errCode });
    return applied !== null;
  }

  /**
   * POST body of Alibaba's SmsReport callback; answer with the returned ack. With `workspaceId`
   * (the callback URL is signed per workspace) only that workspace's messages can change.
   */
  async function smsReport(body: unknown, workspaceId?: string): Promise<typeof CALLBACK_ACK> {
    const mine = (m: store.MessageRow) => !workspaceId || m.workspace_id === workspaceId;
    for (const receipt of parseReportCallback(body)) {
      let candidates: store.MessageRow[] = [];
      if (receipt.outId && UUID.test(receipt.outId)) {
        const row = await store.findById(deps.db, receipt.outId);
        if (row && mine(row)) candidates = [row];
      }
      if (!candidates.length && receipt.bizId) {
        candidates = (await store.findByProviderId(deps.db, "aliyun-sms", receipt.bizId)).filter((m) => m.address === receipt.phone && mine(m));
      }
      await applyReceipt(receipt, candidates);
    }
    return CALLBACK_ACK;
  }

  /** POST body of Alibaba's SmsUp callback for one workspace: TD/退订 replies become opt-outs. */
  async function smsReplies(workspaceId: string, body: unknown): Promise<typeof CALLBACK_ACK> {
    for (const reply of parseUpstreamCallback(body)) {
      if (reply.optOut) await deps.messaging.optOut(workspaceId, "sms", reply.phone, "sms_reply");
    }
    return CALLBACK_ACK;
  }

  /**
   * Polls QuerySendDetails for SMS sent at least `minAgeMs` ago and still without a receipt (the
   * callback is the fast path; polling catches what it missed). Returns how many changed.
   */
  async function pollSmsReceipts(workspaceId: string, options: { minAgeMs?: number; maxAgeMs?: number; limit?: number } = {}): Promise<number> {
    const resolved = await deps.providers(workspaceId, "sms");
    const provider = resolved.provider as Partial<AliyunSmsProvider>;
    if (provider.id !== "aliyun-sms" || !provider.queryDetails) return 0;
    const t = now().getTime();
    const rows = await query<{ id: string; address: string; sent_at: Date | string; provider_message_id: string }>(
      deps.db,
      sql`select id, address, sent_at, provider_message_id from messages
          where provider = 'aliyun-sms' and state = 'sent' and workspace_id = ${workspaceId}
            and sent_at <= ${new Date(t - (options.minAgeMs ?? 60_000)).toISOString()} and sent_at >= ${new Date(t - (options.maxAgeMs ?? 3 * 86_400_000)).toISOString()}
          order by sent_at limit ${options.limit ?? 500}`,
    );
    let changed = 0;
    for (const r of rows) {
      const receipts = await provider.queryDetails(r.address, new Date(r.sent_at), r.provider_message_id);
      const mine = receipts.find((x) => x.outId === r.id) ?? receipts[0];
      const row = await store.findById(deps.db, r.id);
      if (mine && row && (await applyReceipt(mine, [row]))) changed++;
    }
    return changed;
  }

  /**
   * A bounce that arrived after the SMTP session (the return-path mailbox or the relay's webhook
   * passes the raw DSN). Permanent ones fail the message `bounced` and suppress the address;
   * temporary ones are delays and change nothing. Returns whether the message changed.
   */
  async function emailBounce(raw: string, workspaceId?: string): Promise<boolean> {
    const bounce = parseBounce(raw);
    if (!bounce || !bounce.permanent || !UUID.test(bounce.messageId)) return false;
    if (workspaceId && (await store.findById(deps.db, bounce.messageId))?.workspace_id !== workspaceId) return false;
    const row = await deps.messaging.recordDelivery(bounce.messageId, "failed", now(), {
      reason: "bounced",
      detail: bounce.diagnostic,
      providerCode: bounce.status,
    });
    return row !== null;
  }

  return { trackingHit, unsubscribePreview, smsReport, smsReplies, pollSmsReceipts, emailBounce };
}
