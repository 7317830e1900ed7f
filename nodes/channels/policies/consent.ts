import type { Category, Channel, FailureReason } from "../provider";
import type { PolicySettings } from "./settings";

/** Per channel and category, as stored on the user (users.consent). */
export type ConsentMap = Partial<Record<Channel, { marketing?: boolean; transactional?: boolean }>>;

/**
 * An entry on the suppression list. `marketing` scope is an unsubscribe from promotions (回TD退订,
 * List-Unsubscribe): notices still arrive. `all` scope is a hard stop: a hard bounce, a spam
 * complaint, or an operator blocking the address; nothing is sent on that channel any more.
 */
export interface Suppression {
  scope: "marketing" | "all";
  reason: "unsubscribed" | "complaint" | "bounced" | "manual";
}

/**
 * Decides whether a message may be sent as far as the user's wishes go. Returns the failure reason
 * when it may not. See docs/decisions/0201-transactional-consent.md.
 */
export function checkConsent(input: {
  channel: Channel;
  category: Category;
  consent: ConsentMap;
  suppressions: Suppression[];
  settings: PolicySettings;
}): FailureReason | null {
  const { channel, category, consent, suppressions, settings } = input;
  for (const s of suppressions) {
    if (s.scope === "all") return s.reason === "bounced" ? "invalid_address" : "unsubscribed";
    if (category === "marketing") return "unsubscribed";
  }
  const given = consent[channel];
  if (category === "transactional") {
    // Only an explicit "no notices on this channel" stops a transactional message: the user's
    // marketing choices say nothing about whether they want their fare receipt.
    return given?.transactional === false ? "no_consent" : null;
  }
  const flag = given?.marketing;
  if (flag === false) return "no_consent";
  if (flag === undefined && settings.marketingConsent[channel] === "opt-in") return "no_consent";
  return null;
}
