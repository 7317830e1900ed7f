/**
 * Statistics of the journey report (pure, no I/O; imported by the server and the page).
 *
 * - Wilson score interval of one proportion (Wilson 1927).
 * - Newcombe's hybrid score interval for a difference of two independent proportions
 *   (Newcombe 1998, "Interval estimation for the difference between independent proportions",
 *   Statistics in Medicine 17:873–890, method 10) — the uplift against the holdout.
 * - Two-proportion z-test with the pooled variance (equal to Pearson's χ² without continuity
 *   correction on the 2×2 table) — splits compared per branch.
 * - Local-hour bucketing of an instant in an IANA zone (Intl applies the zone's DST rules).
 */

/** Standard normal cumulative distribution, via erfc. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

function erfc(x: number): number {
  // Numerical Recipes' erfc with a Chebyshev fit (fractional error < 1.2e-7), refined enough for
  // p-values shown with 3–4 significant digits.
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Inverse of the standard normal CDF (Acklam's algorithm, relative error < 1.15e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`probability must be in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

export interface Interval {
  low: number;
  high: number;
}

/** Wilson score interval of x successes in n trials (null when n = 0: nothing to say). */
export function wilsonInterval(x: number, n: number, confidence = 0.95): Interval | null {
  if (n <= 0) return null;
  const z = normalQuantile(1 - (1 - confidence) / 2);
  const p = x / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const half = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  const denom = 1 + z2 / n;
  return { low: Math.max(0, (centre - half) / denom), high: Math.min(1, (centre + half) / denom) };
}

export interface Uplift {
  /** Conversion rates of the treated group (outside the holdout) and of the holdout. */
  treated: number;
  control: number;
  /** Absolute uplift: treated − control (percentage points as a fraction). */
  difference: number;
  /** Newcombe hybrid score interval of the difference. */
  interval: Interval;
  /** Relative uplift (difference / control), null when the control converted nobody. */
  relative: number | null;
  /** The interval excludes zero. */
  significant: boolean;
}

/**
 * Uplift of x1/n1 over x2/n2 with Newcombe's method 10 interval. Null when either group is empty.
 */
export function newcombeDifference(x1: number, n1: number, x2: number, n2: number, confidence = 0.95): Uplift | null {
  const w1 = wilsonInterval(x1, n1, confidence);
  const w2 = wilsonInterval(x2, n2, confidence);
  if (!w1 || !w2) return null;
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const d = p1 - p2;
  const low = d - Math.sqrt((p1 - w1.low) ** 2 + (w2.high - p2) ** 2);
  const high = d + Math.sqrt((w1.high - p1) ** 2 + (p2 - w2.low) ** 2);
  return { treated: p1, control: p2, difference: d, interval: { low, high }, relative: p2 > 0 ? d / p2 : null, significant: low > 0 || high < 0 };
}

export interface TwoProportionTest {
  rateA: number;
  rateB: number;
  /** rateA − rateB. */
  difference: number;
  z: number;
  /** Two-sided p-value. */
  pValue: number;
  /** 1 − p: the "confidence reached" operators read. */
  confidence: number;
  /** p < alpha. */
  significant: boolean;
}

/** Two-sided two-proportion z-test (pooled). Null when a group is empty or nobody / everybody converted (no variance). */
export function twoProportionTest(xA: number, nA: number, xB: number, nB: number, alpha = 0.05): TwoProportionTest | null {
  if (nA <= 0 || nB <= 0) return null;
  const pA = xA / nA;
  const pB = xB / nB;
  const pooled = (xA + xB) / (nA + nB);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / nA + 1 / nB));
  if (se === 0) return null;
  const z = (pA - pB) / se;
  const pValue = Math.min(1, 2 * (1 - normalCdf(Math.abs(z))));
  return { rateA: pA, rateB: pB, difference: pA - pB, z, pValue, confidence: 1 - pValue, significant: pValue < alpha };
}

/** The hour (0–23) an instant falls in on the clock of an IANA zone (DST applied); UTC for an unknown zone. */
export function localHour(instant: Date | number, zone: string | null | undefined): number {
  const at = new Date(instant);
  const format = (timeZone: string) => new Intl.DateTimeFormat("en-US", { timeZone, hour: "numeric", hourCycle: "h23" }).formatToParts(at);
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = format(zone || "UTC");
  } catch {
    parts = format("UTC");
  }
  return Number(parts.find((p) => p.type === "hour")?.value ?? 0) % 24;
}

/** Sends bucketed by local hour: 24 rows, each with sent and converted. */
export function bucketBySendHour(sends: ReadonlyArray<{ at: Date | number; zone: string | null | undefined; converted: boolean }>): Array<{ hour: number; sent: number; converted: number }> {
  const rows = Array.from({ length: 24 }, (_, hour) => ({ hour, sent: 0, converted: 0 }));
  for (const s of sends) {
    const row = rows[localHour(s.at, s.zone)];
    row.sent += 1;
    if (s.converted) row.converted += 1;
  }
  return rows;
}

/**
 * Sends an hour needs before it can be a best hour (decision 0861): at least 30, and at least 2 %
 * of all sends in the period. Below that an hour's rate is mostly chance (3 sends and 2 orders
 * read 66.7 %, with a Wilson 95 % interval of 21–94 %), and a marketer would be told to send at
 * 3 am because of 3 users. The 2 % keeps a busy journey from ranking a fringe hour.
 */
export const BEST_HOUR_MIN_SENT = 30;
export const BEST_HOUR_MIN_SHARE = 0.02;

/** The sends an hour needs to be ranked, given the period's sends in all hours. */
export function bestHourMinSent(totalSent: number): number {
  return Math.max(BEST_HOUR_MIN_SENT, Math.ceil(BEST_HOUR_MIN_SHARE * totalSent));
}

/**
 * Best send hours: hours with at least `minSent` sends (default: bestHourMinSent of all the rows'
 * sends) and at least one conversion, by conversion rate (ties: more sends, then the earlier hour),
 * the top `count`. Empty when no hour has enough sends, or none of those converted anybody: an
 * hour at 0 % is no best hour.
 */
export function bestHours(
  rows: ReadonlyArray<{ hour: number; sent: number; converted: number }>,
  count = 3,
  minSent = bestHourMinSent(rows.reduce((sum, r) => sum + r.sent, 0)),
): Array<{ hour: number; sent: number; converted: number; rate: number }> {
  return rows
    .filter((r) => r.sent >= minSent && r.converted > 0)
    .map((r) => ({ ...r, rate: r.converted / r.sent }))
    .sort((a, b) => b.rate - a.rate || b.sent - a.sent || a.hour - b.hour)
    .slice(0, count);
}

/**
 * What the report calls its steps (decision 1152: the node's own label, else its type's label),
 * each once: when several steps would read the same ("SMS" and "SMS" for two unlabeled SMS
 * nodes) they are numbered in the order given (path order): "SMS 1", "SMS 2". `withChannel` says
 * whether naming the channel beside it adds anything — not when the name already says it (an
 * unlabeled SMS node is "SMS", not "SMS (SMS)"; "优惠短信" already says 短信).
 */
export function stepNames(steps: ReadonlyArray<{ nodeId: string; name: string; channel?: string | null }>): Record<string, { name: string; withChannel: boolean }> {
  const key = (text: string) => text.trim().toLocaleLowerCase();
  const unique = [...new Map(steps.map((s) => [s.nodeId, s] as const).reverse()).values()];
  const total = new Map<string, number>();
  for (const s of unique) total.set(key(s.name), (total.get(key(s.name)) ?? 0) + 1);
  const seen = new Map<string, number>();
  const out: Record<string, { name: string; withChannel: boolean }> = {};
  for (const s of steps) {
    if (out[s.nodeId]) continue;
    const k = key(s.name);
    const nth = (seen.get(k) ?? 0) + 1;
    seen.set(k, nth);
    const channel = s.channel ? key(s.channel) : "";
    out[s.nodeId] = { name: (total.get(k) ?? 0) > 1 ? `${s.name.trim()} ${nth}` : s.name.trim(), withChannel: channel !== "" && !k.includes(channel) };
  }
  return out;
}

/** Return rate: share of messaged users who came back (0 when nobody was messaged). */
export function returnRate(returned: number, messaged: number): number {
  return messaged > 0 ? returned / messaged : 0;
}

/** One CSV document: RFC 4180 quoting; a leading BOM so spreadsheet programs read UTF-8 (Chinese headers). */
export function toCsv(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null>>): string {
  const cell = (v: string | number | null) => {
    const s = v === null ? "" : String(v);
    // A cell starting with = + - @ would be a formula in a spreadsheet: quote it with a leading apostrophe.
    const safe = /^[=+\-@]/.test(s) && typeof v !== "number" ? `'${s}` : s;
    return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  return "\uFEFF" + [header, ...rows].map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}
