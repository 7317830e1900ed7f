import { afterEach, describe, expect, it, vi } from "vitest";
import { isValidZone } from "../../workflows/time";

/**
 * The interpreter checks zones on every time-of-day and date wait (user zone, journey zone,
 * workspace zone). Building an Intl.DateTimeFormat per check was ~30% of the embedded engine's
 * CPU in `npm run bench:engine`; validity must be computed once per zone name.
 */
describe("zone validity", () => {
  afterEach(() => vi.restoreAllMocks());

  it("is computed once per zone name, for valid and invalid names alike", () => {
    expect(isValidZone("Asia/Shanghai")).toBe(true);
    expect(isValidZone("Mars/Base")).toBe(false);
    const Original = Intl.DateTimeFormat;
    const spy = vi.spyOn(Intl, "DateTimeFormat").mockImplementation(((...args: ConstructorParameters<typeof Intl.DateTimeFormat>) => new Original(...args)) as typeof Intl.DateTimeFormat);
    for (let i = 0; i < 100; i++) {
      expect(isValidZone("Asia/Shanghai")).toBe(true);
      expect(isValidZone("Mars/Base")).toBe(false);
    }
    expect(spy).not.toHaveBeenCalled();
  });
});
