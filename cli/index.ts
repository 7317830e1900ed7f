import { Command, InvalidArgumentError } from "commander";
import { loadConfig, ConfigError, type Config } from "../app/config.server";
import { AccountError, createOperator, ensureDefaultWorkspace, resetPasswordByEmail } from "../app/lib/accounts.server";
import { DataDirLockedError } from "../db/data-dir-lock";
import { roles, type Role } from "../db/schema";
import { migrate } from "../db/client";
import { ensureFirstStart, loginBanner, seedDemo } from "./bootstrap";
import { createServices, openConfiguredDatabase } from "./services";
import { startServer } from "./server";
import { runSimulateCommand } from "../workflows/simulate-cli";
import { loadPolicySettings } from "../nodes/channels/settings.server";
import type { PolicySettings } from "../nodes/channels/policies/settings";
import { startSegmentSweeper } from "../app/segments/membership.server";
import { importUsersFromFile } from "./import-users";
import { startReceiptPoller } from "../nodes/channels/runtime.server";
import { startRoutingSweep } from "../app/ingest/routing.server";

function config(): Config {
  return configWith({});
}

function configWith(overrides: Record<string, string>): Config {
  try {
    return loadConfig({ ...process.env, ...overrides });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("must be a whole number ≥ 0");
  return n;
}

const program = new Command("waypost").description("Waypost — journeys for user operations").showHelpAfterError();

program
  .command("migrate")
  .description("apply database migrations (PGlite in WAYPOST_DATA_DIR, or DATABASE_URL)")
  .action(async () => {
    const cfg = config();
    const database = await openConfiguredDatabase(cfg);
    await migrate(database);
    console.log(`migrations applied (${database.location})`);
    await database.close();
  });

/** Runs an account command: an AccountError is the operator's mistake (message, exit 1); the database is closed either way. */
async function accountCommand(services: { database: { close(): Promise<void> } }, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (!(error instanceof AccountError)) throw error;
    console.error(error.message);
    process.exitCode = 1;
  } finally {
    await services.database.close();
  }
}

program
  .command("create-admin")
  .description("create an operator account (admin by default) in the default workspace")
  .requiredOption("--email <email>", "login email")
  .option("--password <password>", "password (generated and printed when omitted)")
  .option("--name <name>", "display name")
  .option("--role <role>", `one of ${roles.join(", ")}`, "admin")
  .action(async (opts: { email: string; password?: string; name?: string; role: string }) => {
    if (!roles.includes(opts.role as Role)) {
      console.error(`--role must be one of ${roles.join(", ")}; got "${opts.role}"`);
      process.exit(2);
    }
    const services = await createServices(config());
    await accountCommand(services, async () => {
      const workspace = await ensureDefaultWorkspace(services.db);
      const created = await createOperator(services.db, { workspaceId: workspace.id, email: opts.email, name: opts.name, role: opts.role as Role, password: opts.password });
      console.log(`created ${opts.role} ${created.email}${opts.password ? "" : ` with one-time password ${created.password} (to be changed at the first sign-in)`}`);
    });
  });

program
  .command("reset-password")
  .description("give an operator a new one-time password (printed), end their sessions and lift any sign-in lock")
  .requiredOption("--email <email>", "the operator's login email")
  .option("--password <password>", "the new password (generated when omitted); it must still be changed at the next sign-in")
  .action(async (opts: { email: string; password?: string }) => {
    const services = await createServices(config());
    await accountCommand(services, async () => {
      const reset = await resetPasswordByEmail(services.db, opts.email, services.now(), opts.password);
      console.log(`password reset for ${reset.email}${opts.password ? "" : `: one-time password ${reset.password}`} (${reset.endedSessions} sessions ended; a new password must be chosen at the next sign-in)`);
    });
  });

program
  .command("seed-demo")
  .description("load demo users, events and journeys into the default workspace (skipped if already there)")
  .option("--users <n>", "number of synthetic users", positiveInt)
  .action(async (opts: { users?: number }) => {
    const cfg = config();
    const services = await createServices(cfg);
    const { workspaceId } = await ensureFirstStart(services);
    const result = await seedDemo(services, workspaceId, opts.users ?? cfg.WAYPOST_DEMO_USERS);
    console.log(result ? `seeded ${result.users} users, ${result.events} events and ${result.journeys} journeys` : "demo data already present; nothing to do");
    await services.database.close();
  });

program
  .command("import-users <file>")
  .description("import users and tags from a CSV file (first row: user_id, email, phone, timezone, tags, ... and traits)")
  .option("--tags <mode>", "add (keep existing tags) or replace", "add")
  .action(async (file: string, opts: { tags: string }) => {
    if (opts.tags !== "add" && opts.tags !== "replace") {
      console.error(`--tags must be add or replace; got "${opts.tags}"`);
      process.exit(2);
    }
    process.exitCode = await importUsersFromFile(config(), file, opts.tags);
  });

program
  .command("start")
  .description("serve the app (and run the embedded engine's worker in-process)")
  .option("--port <port>", "port to listen on (default PORT or 3000)", positiveInt)
  .action(async (opts: { port?: number }) => {
    const cfg = config();
    const services = await createServices(cfg);
    const first = await ensureFirstStart(services);
    const server = await startServer(services, { port: opts.port ?? cfg.PORT, host: cfg.HOST });
    const url = cfg.WAYPOST_PUBLIC_URL ?? `http://localhost:${server.port}`;
    console.log(`Waypost listening on ${url} (database: ${services.database.location}, engine: ${cfg.WAYPOST_ENGINE})`);
    if (first.admin) console.log(loginBanner(url, first.admin));
    if (cfg.WAYPOST_DEMO_DATA) {
      const seeded = await seedDemo(services, first.workspaceId, cfg.WAYPOST_DEMO_USERS);
      if (seeded) console.log(`demo data loaded: ${seeded.users} users, ${seeded.events} events, ${seeded.journeys} journeys`);
    }
    if (cfg.WAYPOST_RUN_WORKER && services.engine) await services.engine.start();
    // Alibaba Cloud SMS receipts the report callback missed (QuerySendDetails), once a minute.
    const receipts = cfg.WAYPOST_RUN_WORKER ? startReceiptPoller(services) : null;
    // Stored events whose routing answer was lost reach the engine without a resend (decision 1001).
    const routing = cfg.WAYPOST_RUN_WORKER && services.engine ? startRoutingSweep(services) : null;
    // Time-based segments ("no order in 30 days") change without any event: recompute them.
    const sweeper = cfg.WAYPOST_SEGMENT_SWEEP_SECONDS > 0 ? startSegmentSweeper(services, cfg.WAYPOST_SEGMENT_SWEEP_SECONDS * 1000) : null;
    const shutdown = async () => {
      await server.close();
      await sweeper?.stop();
      await receipts?.stop();
      await routing?.stop();
      await services.engine?.stop();
      await services.database.close();
      process.exit(0);
    };
    process.once("SIGINT", shutdown);
    process.once("SIGTERM", shutdown);
  });

program
  .command("worker")
  .description("run the journey engine's worker (due timers, side effects, schedules) without serving HTTP; run as many as you like")
  .option("--engine <engine>", "embedded or temporal (default: WAYPOST_ENGINE)")
  .action(async (opts: { engine?: string }) => {
    // --engine overrides WAYPOST_ENGINE, validated like the variable (temporal needs TEMPORAL_ADDRESS).
    const cfg = opts.engine ? configWith({ WAYPOST_ENGINE: opts.engine }) : config();
    const services = await createServices(cfg);
    if (!services.engine) {
      console.error(`WAYPOST_ENGINE=${cfg.WAYPOST_ENGINE} has no worker here`);
      process.exit(2);
    }
    try {
      await services.engine.start();
    } catch (error) {
      // e.g. Temporal unreachable: say so plainly instead of a stack trace.
      console.error(`worker could not start: ${error instanceof Error ? error.message : String(error)}`);
      await services.database.close();
      process.exit(1);
    }
    const receipts = startReceiptPoller(services);
    const routing = startRoutingSweep(services);
    console.log(`Waypost worker running (database: ${services.database.location}, engine: ${cfg.WAYPOST_ENGINE})`);
    const shutdown = async () => {
      await receipts.stop();
      await routing.stop();
      // Finishes the batch in hand; a worker killed instead loses nothing (leases run out).
      await services.engine?.stop();
      await services.database.close();
      process.exit(0);
    };
    process.once("SIGINT", shutdown);
    process.once("SIGTERM", shutdown);
  });

program
  .command("simulate")
  .description("run a journey over a timeline of events with a virtual clock and no real sends; prints a JSON trace")
  .argument("<journey.json>", "journey document (or an export wrapping it as { document })")
  .argument("<timeline.json>", "users and timeline (see docs/nodes.md)")
  .option("--no-workspace-policies", "do not read the workspace's sending policies from the database (the timeline file may still state its own)")
  .action(async (journeyPath: string, timelinePath: string, options: { workspacePolicies: boolean }) => {
    try {
      // Journeys may use extension node types; a refused extension is reported and left out.
      const { loadExtensions } = await import("../nodes/extension/loader.server");
      for (const refused of (await loadExtensions(config().WAYPOST_EXTENSIONS)).filter((s) => s.status === "refused")) console.error(`extension ${refused.name} refused: ${refused.error}`);
      // The workspace's own policies, so the trace holds and refuses messages as the engine would.
      let workspacePolicies: PolicySettings | undefined;
      if (options.workspacePolicies) {
        const cfg = config();
        const database = await openConfiguredDatabase(cfg).catch((error: unknown) => {
          throw new Error(`cannot read the workspace's sending policies (${error instanceof Error ? error.message : String(error)}); run with --no-workspace-policies, or put "policies" in the timeline file`);
        });
        try {
          workspacePolicies = await loadPolicySettings(database.db, (await ensureDefaultWorkspace(database.db)).id);
        } finally {
          await database.close();
        }
      }
      console.log(await runSimulateCommand(journeyPath, timelinePath, { workspacePolicies }));
    } catch (error) {
      console.error(error instanceof Error ? error.message : String(error));
      process.exitCode = 1;
    }
  });

const extension = program.command("extension").description("write and test extensions (docs/extensions.md)");

extension
  .command("new <name>")
  .description("create an extension folder with one node type and its test")
  .option("--dir <dir>", "where to write it (default ./<name>)")
  .option("--id <id>", "the node type id (default <name>.hello)")
  .action(async (name: string, opts: { dir?: string; id?: string }) => {
    const { newExtension } = await import("./extension");
    try {
      const dir = newExtension(name, opts);
      console.log(`created ${dir}\ntest it:  npx waypost extension test ${dir}\nload it:  WAYPOST_EXTENSIONS=${dir} npx waypost start`);
    } catch (error) {
      console.error(error instanceof Error ? error.message : String(error));
      process.exitCode = 2;
    }
  });

extension
  .command("test <dir>")
  .description("run an extension's *.test.ts files (node:test) against this Waypost's extension API")
  .action(async (dir: string) => {
    const { testExtension } = await import("./extension");
    try {
      await testExtension(dir);
    } catch (error) {
      console.error(error instanceof Error ? error.message : String(error));
      process.exitCode = 1;
    }
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Another process holds the PGlite data directory (decision 0725): say so, change nothing.
  if (!(error instanceof DataDirLockedError)) throw error;
  console.error(error.message);
  process.exit(1);
}
