import { appendFileSync } from "node:fs";
import { createLogger } from "../../app/lib/log.server";
import { openDatabase } from "../../db/client";
import { createEmbeddedEngine } from "../../workflows/embedded/engine.server";

/**
 * The worker process of the crash test (test/engine/crash.test.ts), run like `waypost worker`:
 * the embedded engine's worker, sending through the engine's sandbox sender, whose provider
 * appends every call it receives to CRASH_PROVIDER_LOG before answering. The parent SIGKILLs
 * this process at random moments and starts it again.
 */
const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const T0 = Number(env("CRASH_T0"));
const REAL0 = Number(env("CRASH_REAL0"));
const SPEED = Number(env("CRASH_SPEED"));
const log = env("CRASH_PROVIDER_LOG");
// The journey clock runs SPEED times faster than real time, continuously across restarts.
const now = () => new Date(T0 + (Date.now() - REAL0) * SPEED);

const database = await openDatabase({ url: env("DATABASE_URL"), maxConnections: 8 });
const engine = createEmbeddedEngine(
  // Errors go to stderr, which the test shows.
  { db: database.db, now, database, log: createLogger("error") },
  {
    leaseMs: 2_000,
    idlePollMs: 100,
    batchSize: 100,
    // Written synchronously: once the provider call returns, the receipt is in the file even if
    // the process dies on the next instruction.
    onSandboxSend: (delivery) => appendFileSync(log, `${delivery.request.idempotencyKey}\t${delivery.request.channel}\n`),
  },
);
await engine.start();
process.stdout.write("ready\n");
