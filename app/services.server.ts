import type { Config } from "./config.server";
import type { Database, Db } from "../db/client";
import type { Logger } from "./lib/log.server";
import type { JourneyEngine } from "../workflows/engine";
import type { ChannelsRuntime } from "../nodes/channels/runtime.server";
import type { ProfileSignals } from "./segments/membership.server";
import type { PasswordHasher } from "./lib/auth.server";

/**
 * Everything the server side needs, built once at start (cli/start.ts) and handed to Remix
 * loaders/actions as `context.services` and to tRPC procedures as `ctx.services`. Tests build
 * their own with a throwaway database. Other areas add their services here.
 */
export interface AppServices {
  config: Config;
  database: Database;
  db: Db;
  log: Logger;
  /** Injectable clock: tests and the simulator move time themselves. */
  now(): Date;
  /** The journey engine (embedded or Temporal). Absent only in tests that do not need one. */
  engine?: JourneyEngine;
  /** Channel providers, delivery callbacks and test sends (built on first use: channelsOf). */
  channels?: ChannelsRuntime;
  /** "These users' profiles changed" for the runtime (channels): re-evaluates their segments. Set by createServices. */
  profileChanged?(workspaceId: string, userIds: string[], signals: ProfileSignals): void;
  /** The bound on concurrent password hashes (built on first use: passwordsOf). */
  passwords?: PasswordHasher;
}

declare module "@remix-run/node" {
  interface AppLoadContext {
    services: AppServices;
    /** This response's Content-Security-Policy nonce (cli/server.ts), for Remix's inline scripts. */
    cspNonce?: string;
  }
}
