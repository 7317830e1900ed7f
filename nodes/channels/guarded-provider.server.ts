import { assertDestinationAllowed, isOutboundRefusal, type DestinationPolicy } from "../net/outbound.server";
import { failure, type ChannelProvider, type ProviderOutcome } from "./provider";

/**
 * A provider whose SDK opens its own connections (Alibaba Cloud's Tea client takes no agent or
 * lookup): the configured endpoint is checked by the outbound-request guard before every call, so
 * an endpoint that is, or comes to resolve to, an internal address is refused with the guard's
 * message. What remains is the moment between our lookup and the SDK's own (decision 0702).
 */
export function guardProvider<P extends ChannelProvider>(provider: P, host: string, policy: DestinationPolicy): P {
  const refusal = async (): Promise<ProviderOutcome | null> => {
    try {
      await assertDestinationAllowed(host, policy);
      return null;
    } catch (error) {
      // A name that does not resolve (now): let the SDK try and fail its own, retryable way.
      if (!isOutboundRefusal(error)) return null;
      // Permanent: another try goes to the same refused destination.
      return failure("provider_rejected", { providerCode: "destination_refused", detail: error.message });
    }
  };
  const guarded: P = Object.create(provider) as P;
  guarded.send = async (message) => (await refusal()) ?? provider.send(message);
  guarded.sendBatch = async (messages) => {
    const refused = await refusal();
    return refused ? messages.map(() => refused) : provider.sendBatch(messages);
  };
  const query = (provider as { queryDetails?: (...args: unknown[]) => Promise<unknown> }).queryDetails;
  if (query) {
    (guarded as unknown as { queryDetails: (...args: unknown[]) => Promise<unknown> }).queryDetails = async (...args: unknown[]) => {
      await assertDestinationAllowed(host, policy);
      return query.apply(provider, args);
    };
  }
  return guarded;
}
