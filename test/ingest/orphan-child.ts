import { handleIngest } from "../../app/ingest/http.server";
import { loadConfig } from "../../app/config.server";
import { createLogger } from "../../app/lib/log.server";
import type { AppServices } from "../../app/services.server";
import { openDatabase } from "../../db/client";
import type { JourneyEngine } from "../../workflows/engine";

/**
 * The app process of test/ingest/orphaned-events.test.ts: real ingestion (key, validation, the
 * store transaction with its "not yet routed" marker) against the test's database. Its engine
 * stands for the moment between store and routing: it says "routing" on stdout and never
 * answers, and the parent SIGKILLs this process there. The engine is the boundary the test cuts;
 * everything before it is the product's code.
 */
const url = process.env.ORPHAN_DATABASE_URL!;
const database = await openDatabase({ url, maxConnections: 4 });
const config = loadConfig({ DATABASE_URL: url, WAYPOST_LOG_LEVEL: "silent", NODE_ENV: "test" });
const stalled: JourneyEngine = {
  kind: "embedded",
  handleEvents: () => {
    process.stdout.write("routing\n");
    return new Promise(() => undefined);
  },
  handleSegmentChanges: async () => undefined,
  triggerJourney: () => new Promise(() => undefined),
} as unknown as JourneyEngine;
const services: AppServices = { config, database, db: database.db, log: createLogger("silent"), now: () => new Date(), engine: stalled };
const body = process.env.ORPHAN_BODY!;
const request = new Request("http://child/api/v1/batch", {
  method: "POST",
  headers: { "content-type": "application/json", authorization: `Basic ${Buffer.from(`${process.env.ORPHAN_KEY}:`).toString("base64")}` },
  body,
});
await handleIngest(request, services, "batch");
process.stdout.write("answered\n");
