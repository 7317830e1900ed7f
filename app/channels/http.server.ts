/**
 * The channels' public HTTP endpoints, kept thin: parse the request, call the delivery handlers
 * (nodes/channels/delivery.server.ts), answer in the format the other side expects.
 */
import type { AppServices } from "../services.server";
import { channelsOf, type CallbackPurpose } from "../../nodes/channels/runtime.server";

const noStore = { "Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer" };

/** GET /t/o/:token — the open pixel. */
export async function openPixel(services: AppServices, token: string): Promise<Response> {
  const answer = await channelsOf(services).delivery.trackingHit(`/t/o/${token}`);
  if (answer.status !== 200 || !("kind" in answer) || answer.kind !== "open") return new Response("Bad tracking link", { status: answer.status === 404 ? 404 : 400, headers: noStore });
  return new Response(answer.body, { status: 200, headers: { ...noStore, "Content-Type": answer.contentType, "Content-Length": String(answer.body.length) } });
}

/** GET /t/c/:token — the click redirect, only ever to the URL the signature covers. */
export async function clickRedirect(services: AppServices, token: string): Promise<Response> {
  const answer = await channelsOf(services).delivery.trackingHit(`/t/c/${token}`);
  if (answer.status !== 302) return new Response("Bad tracking link", { status: answer.status === 404 ? 404 : 400, headers: noStore });
  const location = new URL(answer.location);
  // Signed by us, but still never anything but a web page.
  if (location.protocol !== "https:" && location.protocol !== "http:") return new Response("Bad tracking link", { status: 400, headers: noStore });
  return new Response(null, { status: 302, headers: { ...noStore, Location: location.toString() } });
}

/** POST /t/u/:token — RFC 8058 one-click unsubscribe (and the confirmation page's button). */
export async function unsubscribe(services: AppServices, token: string): Promise<{ status: 200 | 400 | 404 }> {
  const answer = await channelsOf(services).delivery.trackingHit(`/t/u/${token}`);
  return { status: answer.status === 200 ? 200 : answer.status === 404 ? 404 : 400 };
}

export function unsubscribePreview(services: AppServices, token: string) {
  return channelsOf(services).delivery.unsubscribePreview(`/t/u/${token}`);
}

/** Alibaba Cloud answers: `{"code":0,"msg":"成功"}` accepts, anything else makes it retry. */
function aliyunAnswer(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json; charset=utf-8" } });
}

function workspaceOf(services: AppServices, token: string, purpose: CallbackPurpose): Promise<string | null> {
  return channelsOf(services).verifyCallbackToken(token, purpose);
}

async function readJson(request: Request): Promise<unknown> {
  const text = await request.text();
  return JSON.parse(text) as unknown;
}

/** POST /callbacks/aliyun-sms/:token/report — SmsReport (delivery receipts, HTTP batch push). */
export async function aliyunReport(services: AppServices, request: Request, token: string): Promise<Response> {
  if (request.method !== "POST") return aliyunAnswer({ code: 405, msg: "POST only" }, 405);
  const workspaceId = await workspaceOf(services, token, "sms-report");
  if (!workspaceId) return aliyunAnswer({ code: 403, msg: "unknown callback address" }, 403);
  let body: unknown;
  try {
    body = await readJson(request);
    return aliyunAnswer(await channelsOf(services).delivery.smsReport(body, workspaceId));
  } catch (error) {
    services.log.warn("aliyun sms report refused", { error: error instanceof Error ? error.message : String(error) });
    return aliyunAnswer({ code: 400, msg: error instanceof Error ? error.message : "bad request" }, 400);
  }
}

/** POST /callbacks/aliyun-sms/:token/replies — SmsUp (upstream replies: 回TD退订). */
export async function aliyunReplies(services: AppServices, request: Request, token: string): Promise<Response> {
  if (request.method !== "POST") return aliyunAnswer({ code: 405, msg: "POST only" }, 405);
  const workspaceId = await workspaceOf(services, token, "sms-up");
  if (!workspaceId) return aliyunAnswer({ code: 403, msg: "unknown callback address" }, 403);
  try {
    return aliyunAnswer(await channelsOf(services).delivery.smsReplies(workspaceId, await readJson(request)));
  } catch (error) {
    services.log.warn("aliyun sms replies refused", { error: error instanceof Error ? error.message : String(error) });
    return aliyunAnswer({ code: 400, msg: error instanceof Error ? error.message : "bad request" }, 400);
  }
}

/** POST /callbacks/email/:token/bounce — a raw DSN (message/delivery-status) from the relay. */
export async function emailBounce(services: AppServices, request: Request, token: string): Promise<Response> {
  const json = (body: unknown, status: number) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  if (request.method !== "POST") return json({ error: "POST only" }, 405);
  const workspaceId = await workspaceOf(services, token, "email-bounce");
  if (!workspaceId) return json({ error: "unknown callback address" }, 403);
  const raw = await request.text();
  if (!raw.trim()) return json({ error: "empty body: POST the bounce message (DSN) as it arrived" }, 400);
  const changed = await channelsOf(services).delivery.emailBounce(raw, workspaceId);
  return json({ ok: true, changed }, 200);
}

/** The URLs to paste into the Alibaba Cloud console and the mail relay, for the Settings page. */
export async function callbackUrls(services: AppServices, workspaceId: string, origin: string) {
  const runtime = channelsOf(services);
  const base = (services.config.WAYPOST_PUBLIC_URL ?? origin).replace(/\/$/, "");
  return {
    smsReport: `${base}/callbacks/aliyun-sms/${await runtime.callbackToken(workspaceId, "sms-report")}/report`,
    smsReplies: `${base}/callbacks/aliyun-sms/${await runtime.callbackToken(workspaceId, "sms-up")}/replies`,
    emailBounce: `${base}/callbacks/email/${await runtime.callbackToken(workspaceId, "email-bounce")}/bounce`,
    trackingBase: base,
  };
}
