/**
 * Callbacks of custom channel providers (decision 0931): `/callbacks/provider/<providerId>/<token>`
 * where the token is the workspace's signed callback token for purpose `provider:<providerId>`
 * (rotated with the other callback tokens). The route only authenticates the address, hands the
 * raw request to the provider's `handleCallback` (which verifies the service's own signature and
 * parses the body), applies the receipts it returns to that workspace's messages, and answers
 * what the provider says its service expects.
 */
import type { AppServices } from "../services.server";
import { channelsOf } from "../../nodes/channels/runtime.server";
import { applyProviderReceipts, getChannelProviderDefinition } from "../../nodes/channels/custom-providers.server";

/** Bodies larger than this are refused unread (receipt batches are a few KB). */
const MAX_BODY_BYTES = 1_048_576;

const text = (status: number, body: string) => new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" } });

export async function providerCallback(services: AppServices, request: Request, providerId: string, token: string): Promise<Response> {
  const definition = getChannelProviderDefinition(providerId);
  if (!definition) return text(404, `no channel provider "${providerId}" is loaded`);
  const runtime = channelsOf(services);
  const workspaceId = await runtime.verifyCallbackToken(token, `provider:${providerId}`);
  if (!workspaceId) return text(403, "unknown callback address");
  const resolved = await runtime.registry.resolve(workspaceId, definition.channel);
  if (resolved.provider.id !== providerId || !resolved.provider.handleCallback) {
    return text(404, `${providerId} is not this workspace's ${definition.channel} provider`);
  }
  const length = Number(request.headers.get("content-length") ?? 0);
  if (length > MAX_BODY_BYTES) return text(413, `body over ${MAX_BODY_BYTES} bytes`);
  const body = await request.text();
  if (Buffer.byteLength(body) > MAX_BODY_BYTES) return text(413, `body over ${MAX_BODY_BYTES} bytes`);
  const url = new URL(request.url);
  let result;
  try {
    result = await resolved.provider.handleCallback({
      method: request.method,
      headers: Object.fromEntries(request.headers),
      query: Object.fromEntries(url.searchParams),
      body,
    });
  } catch (error) {
    services.log.warn("provider callback refused", { provider: providerId, workspaceId, error: error instanceof Error ? error.message : String(error) });
    return text(400, error instanceof Error ? error.message : "bad callback");
  }
  const changed = await applyProviderReceipts({ db: services.db, messaging: runtime.messaging, now: () => services.now() }, workspaceId, providerId, result.receipts);
  if (result.receipts.length) services.log.info("provider receipts applied", { provider: providerId, workspaceId, receipts: result.receipts.length, changed });
  return new Response(result.response.body, { status: result.response.status, headers: { "Content-Type": result.response.contentType ?? "text/plain; charset=utf-8", "Cache-Control": "no-store" } });
}

/** The URL to give the provider's console for a workspace (shown on Settings › Channels). */
export async function providerCallbackUrl(services: AppServices, workspaceId: string, origin: string, providerId: string): Promise<string> {
  const token = await channelsOf(services).callbackToken(workspaceId, `provider:${providerId}`);
  return `${origin.replace(/\/$/, "")}/callbacks/provider/${encodeURIComponent(providerId)}/${token}`;
}
