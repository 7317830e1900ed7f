/**
 * Where a provider's stored secrets are sent. Secrets are bound to it: saving settings with
 * another destination drops the stored secrets unless new ones are entered in the same save
 * (issue 13: a re-saved SMTP host must not receive the old password). Decision 0703.
 *
 * Client-safe (the settings form uses `destinationFields` to warn before saving).
 */

/** Config fields that make up each built-in provider's destination. */
export const destinationFields: Record<string, readonly string[]> = {
  smtp: ["host", "port"],
  "aliyun-sms": ["endpoint"],
  // Google's fixed endpoints; the project id names a project there, not a host.
  fcm: [],
  sandbox: [],
};

/** For providers we do not know (extensions' custom providers): any field that reads like a destination. */
const DESTINATION_LIKE = /(host|endpoint|url|uri|server|port|domain|region|gateway|address)$/i;

const DEFAULTS: Record<string, Record<string, unknown>> = { "aliyun-sms": { endpoint: "dysmsapi.aliyuncs.com" } };

function normalise(value: unknown): unknown {
  if (typeof value !== "string") return value ?? null;
  return value.trim().toLowerCase().replace(/\.+$/, "").replace(/\/+$/, "");
}

function fieldsOf(provider: string, ...configs: Record<string, unknown>[]): readonly string[] {
  return destinationFields[provider] ?? [...new Set(configs.flatMap((c) => Object.keys(c)))].filter((k) => DESTINATION_LIKE.test(k)).sort();
}

/** A comparable description of where this provider config sends its secrets. */
export function destinationOf(provider: string, config: Record<string, unknown>, fields = fieldsOf(provider, config)): string {
  const withDefaults = { ...DEFAULTS[provider], ...Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined && v !== "")) };
  return JSON.stringify(fields.map((f) => [f, normalise(withDefaults[f])]));
}

/** True when stored secrets may stay: same provider, same destination. */
export function secretsMayStay(before: { provider: string | null; config: Record<string, unknown> } | undefined, provider: string, config: Record<string, unknown>): boolean {
  if (!before || before.provider !== provider) return false;
  const fields = fieldsOf(provider, before.config, config);
  return destinationOf(provider, before.config, fields) === destinationOf(provider, config, fields);
}
