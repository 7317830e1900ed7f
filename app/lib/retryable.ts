/**
 * Whether retrying a failed step can succeed (browser-safe: the instance page and the operations
 * router both ask it, so the button and the server never disagree; decision 1150).
 *
 * A reason is stored as `code` or `code: detail` ("retries_exhausted: http_503"). Failures that
 * come from the user, the address or the copy fail again on a retry until someone changes them;
 * everything else (provider outages, timeouts, quotas, lost workers, unknown codes of custom
 * nodes) may succeed later and stays retryable.
 */
export const permanentFailureReasons = [
  "no_consent",
  "unsubscribed",
  "missing_address",
  "invalid_address",
  "invalid_token",
  "bounced",
  "too_long",
  "template_error",
  "destination_refused",
  "response_too_large",
  "node_missing",
  "invalid_output",
] as const;

const permanent = new Set<string>(permanentFailureReasons);

/** The code part of a stored reason: "retries_exhausted: http_503" → "retries_exhausted". */
export function failureCode(reason: string | null | undefined): string | null {
  if (!reason) return null;
  const code = reason.split(":")[0]!.trim();
  return code === "" ? null : code;
}

export function isRetryableFailure(reason: string | null | undefined): boolean {
  const code = failureCode(reason);
  return code === null || !permanent.has(code);
}
