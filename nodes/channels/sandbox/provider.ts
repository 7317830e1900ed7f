import type { ChannelProvider, OutboundMessage, Channel } from "../provider";

/**
 * The provider when a workspace configured none: nothing leaves the machine. The message row
 * already holds the copy exactly as the user would see it, and the sandbox reports it delivered
 * at once, so journeys, fallbacks and analytics behave end to end out of the box.
 */
export function createSandboxProvider(channel: Channel, onMessage?: (message: OutboundMessage) => void): ChannelProvider {
  const provider: ChannelProvider = {
    id: "sandbox",
    channel,
    capabilities: { batch: true, maxBatchSize: 1000, idempotency: "native", deliveryReports: "immediate" },
    async send(message) {
      onMessage?.(message);
      return { ok: true, providerMessageId: `sandbox:${message.messageId}`, state: "delivered" };
    },
    async sendBatch(messages) {
      return Promise.all(messages.map((m) => provider.send(m)));
    },
  };
  return provider;
}
