import { z } from "zod";
import { parseAllowlist } from "../nodes/net/outbound.server";

const booleanish = z
  .enum(["1", "0", "true", "false", "yes", "no"])
  .transform((v) => v === "1" || v === "true" || v === "yes");

/** Every environment variable Waypost reads, validated once at start. */
const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("production"),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default("0.0.0.0"),
  DATABASE_URL: z
    .string()
    .url()
    .refine((v) => /^postgres(ql)?:\/\//.test(v), "must be a postgres:// or postgresql:// URL")
    .optional(),
  WAYPOST_DATA_DIR: z.string().min(1).default("./.data"),
  WAYPOST_ENGINE: z.enum(["embedded", "temporal"]).default("embedded"),
  WAYPOST_RUN_WORKER: booleanish.default("true"),
  WAYPOST_DEMO_DATA: booleanish.default("true"),
  WAYPOST_DEMO_USERS: z.coerce.number().int().min(0).max(1_000_000).default(3000),
  /** Days of demo history replayed through the demo journeys on first seeding (0 = none; db/seed/demo-history.server.ts). */
  WAYPOST_DEMO_HISTORY_DAYS: z.coerce.number().int().min(0).max(90).default(30),
  WAYPOST_PUBLIC_URL: z.string().url().optional(),
  WAYPOST_SECURE_COOKIES: booleanish.optional(),
  WAYPOST_SESSION_TTL_HOURS: z.coerce.number().positive().default(24 * 7),
  /** Password hashes (argon2, 19 MiB each) at once, and how many may wait; more answer 503 (decision 0721). */
  WAYPOST_PASSWORD_HASH_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  WAYPOST_PASSWORD_HASH_QUEUE: z.coerce.number().int().min(0).max(10_000).default(32),
  WAYPOST_SECRET_KEY: z.string().min(32, "must be at least 32 characters").optional(),
  WAYPOST_LOG_LEVEL: z.enum(["silent", "error", "warn", "info", "debug"]).default("info"),
  /** Extensions to load at start: comma-separated npm package names or paths (docs/extensions.md). */
  WAYPOST_EXTENSIONS: z.string().default(""),
  /** Ingestion rate limit per write key, in calls per second (0 = unlimited), and its burst. */
  WAYPOST_INGEST_RATE_LIMIT: z.coerce.number().int().min(0).default(50_000),
  WAYPOST_INGEST_BURST: z.coerce.number().int().positive().optional(),
  /** How often the segment sweep recomputes time-based segments (0 = never). */
  WAYPOST_SEGMENT_SWEEP_SECONDS: z.coerce.number().int().min(0).default(60),
  /**
   * Internal destinations the outbound-request guard lets webhooks, custom nodes and provider
   * endpoints call (docs/security.md): comma-separated host names, *.suffix, IPs or CIDRs.
   * Unset: only public internet addresses.
   */
  WAYPOST_OUTBOUND_ALLOW: z
    .string()
    .default("")
    .transform((value, ctx) => {
      try {
        return parseAllowlist(value);
      } catch (error) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: error instanceof Error ? error.message : String(error) });
        return z.NEVER;
      }
    }),
  /** Bearer token that GET /metrics requires (decision 0603); unset and not public: /metrics answers 403. */
  WAYPOST_METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  /** Serve /metrics without a token (only behind a network that keeps it private). */
  WAYPOST_METRICS_PUBLIC: booleanish.default("false"),
  /** Engine lag (oldest due timer, seconds) above which /readyz fails and the alert metric fires (0 = not checked). */
  WAYPOST_ENGINE_LAG_ALERT_SECONDS: z.coerce.number().min(0).default(60),
  /** Engine lag (seconds) above which ingestion answers 429 to the workspaces that are behind (0 = off). */
  WAYPOST_BACKPRESSURE_LAG_SECONDS: z.coerce.number().min(0).default(30),
  /** PostgreSQL: connect timeout and statement timeout in ms (decision 1000). */
  WAYPOST_DB_CONNECT_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  WAYPOST_DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).default(60_000),
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default("default"),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default("waypost-journeys"),
  TEMPORAL_TLS: booleanish.default("false"),
  TEMPORAL_TLS_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().optional(),
  TEMPORAL_API_KEY: z.string().optional(),
});

export type Config = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      "Invalid configuration:\n" +
        problems.map((p) => `  ${p.variable}: ${p.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** Parses the environment; throws a ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset", as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = envSchema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({ variable: String(issue.path[0]), message: issue.message })),
    );
  }
  const config = result.data;
  if (config.WAYPOST_ENGINE === "temporal" && !config.TEMPORAL_ADDRESS) {
    throw new ConfigError([{ variable: "TEMPORAL_ADDRESS", message: "is required when WAYPOST_ENGINE=temporal" }]);
  }
  return config;
}
