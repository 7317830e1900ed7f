import { describe, expect, it } from "vitest";
import { failureCode, isRetryableFailure, permanentFailureReasons } from "./retryable";

describe("isRetryableFailure", () => {
  it("refuses failures that fail again until someone changes the user, the address or the copy", () => {
    for (const reason of ["no_consent", "unsubscribed", "missing_address", "invalid_address", "too_long", "template_error", "destination_refused"]) {
      expect(isRetryableFailure(reason), reason).toBe(false);
    }
    expect(permanentFailureReasons.every((r) => !isRetryableFailure(r))).toBe(true);
  });

  it("offers failures that may pass later, with or without a detail", () => {
    for (const reason of ["provider_unavailable", "timeout", "quota_exceeded", "retries_exhausted: http_503", "execution_lost", "acme_custom", null, undefined, ""]) {
      expect(isRetryableFailure(reason), String(reason)).toBe(true);
    }
    expect(isRetryableFailure("too_long: body: 15003 > 500")).toBe(false);
  });

  it("reads the code of a stored reason", () => {
    expect(failureCode("retries_exhausted: http_503")).toBe("retries_exhausted");
    expect(failureCode("no_consent")).toBe("no_consent");
    expect(failureCode(null)).toBeNull();
  });
});
