/**
 * `npm run bench:temporal` — the win-back journey on a real Temporal server beside the embedded
 * engine, on the same machine in the same run.
 *
 * 1. Embedded engine: BENCH_USERS (5,000) users through the win-back journey with a virtual clock
 *    (bench/winback.ts, the same run as `bench:engine` part 3).
 * 2. Temporal: the same users, program id (so the same holdout), timeline and sandbox provider;
 *    the engine, one worker (the real workflow bundle and activities) and the load generator in
 *    this process, the server separate (scripts/temporal-server.sh when TEMPORAL_ADDRESS is unset).
 *    Entries and orders are handed to the engine before the worker polls, then the worker runs
 *    everything to the end on a journey clock fast enough (a week in under a second) that the clock
 *    never waits: timers step at their deadlines (decision 0508), so the run is work-bound.
 *    User-steps are the interpreter steps of the workload, counted by the embedded engine in (1):
 *    the paths are the same, which the finished counts printed for both show.
 *    CPU per user-step: this process (process.cpuUsage: engine, worker, activities, load), the
 *    Temporal server (/proc/<pid>/stat) and the PostgreSQL backends of the bench database.
 * 3. Billable actions per user, counted in every workflow's real event history (Temporal Cloud's
 *    rules, listed at `countActions`), per path.
 * 4. Start → first action: BENCH_LATENCY_USERS (500) more entries at 100/s with the worker
 *    running; from each history, WorkflowExecutionStarted → the first WorkflowTaskCompleted.
 *
 * The orders (20% of users) come at 10:00, before the 11:00 send hour, on both engines: an order
 * after the push would race the compressed clock on Temporal (docs/benchmarks.md, "Temporal").
 *
 * Env: DATABASE_URL, TEMPORAL_ADDRESS (else a server is started and stopped; TEMPORAL_SERVER_PID
 * names an external server's process for its CPU), BENCH_USERS, BENCH_LANES (3),
 * BENCH_LATENCY_USERS, BENCH_KEEP.
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "@temporalio/client";
import { bundleWorkflowCode } from "@temporalio/worker";
import { sql } from "drizzle-orm";
import type { Database, Db } from "../db/client";
import { executeNode } from "../nodes/registry.server";
import type { FetchLike, SendMessageRequest } from "../nodes/runtime";
import { arr, rows } from "../workflows/embedded/db.server";
import { createSandboxSender } from "../workflows/embedded/sandbox-sender.server";
import { createUserUpdater } from "../workflows/embedded/user-updates.server";
import { MESSAGE_DELIVERED_EVENT } from "../workflows/interpreter";
import { createActivities, type ActionExecutor } from "../workflows/temporal/activities";
import { connectClient, temporalGateway, type TemporalSettings } from "../workflows/temporal/client";
import { ENTER_SIGNAL, journeyTime, type JourneyClock } from "../workflows/temporal/contract";
import { createTemporalEngine } from "../workflows/temporal/engine";
import { createTemporalWorker, WORKFLOWS_PATH } from "../workflows/temporal/worker";
import {
  cpuTicks,
  embeddedWinBack,
  finishedCounts,
  fmt,
  HOUR,
  orders,
  parallelChunks,
  percentile,
  postgresCpu,
  seconds,
  segmentEntries,
  setupWinBack,
  WINBACK_START,
  withDatabase,
  type WinBackResult,
} from "./winback";

const USERS = Number(process.env.BENCH_USERS ?? 5_000);
const LANES = Number(process.env.BENCH_LANES ?? 3);
const LATENCY_USERS = Number(process.env.BENCH_LATENCY_USERS ?? 500);
const PROGRAM_ID = "bench-win-back";
const ORDER_AT = WINBACK_START + HOUR;
/** A week of journey time in 0.6 s: no timer waits on the clock. */
const RATE = 1_000_000;
/** A stuck run fails instead of hanging. */
const MAX_RUN_MS = 30 * 60_000;

// ------------------------------------------------------------------ the server

interface Server {
  address: string;
  pid: number | null;
  stop(): void;
}

function temporalServer(): Server {
  if (process.env.TEMPORAL_ADDRESS) {
    const pid = process.env.TEMPORAL_SERVER_PID ? Number(process.env.TEMPORAL_SERVER_PID) : null;
    return { address: process.env.TEMPORAL_ADDRESS, pid, stop: () => {} };
  }
  const dir = mkdtempSync(join(tmpdir(), "waypost-bench-temporal-"));
  const out = execFileSync("bash", ["scripts/temporal-server.sh", "start", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const address = /TEMPORAL_ADDRESS=(\S+)/.exec(out)?.[1];
  if (!address) throw new Error(`scripts/temporal-server.sh printed no address: ${out}`);
  return {
    address,
    pid: Number(readFileSync(join(dir, "pid"), "utf8")),
    stop: () => {
      execFileSync("bash", ["scripts/temporal-server.sh", "stop", dir], { stdio: "inherit" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------ histories

type History = Awaited<ReturnType<ReturnType<Client["workflow"]["getHandle"]>["fetchHistory"]>>;
type HistoryEvent = NonNullable<History["events"]>[number];

interface Actions {
  started: number;
  /** Signal-with-start's signal: one action with its start under today's rules, two as decision 0501 counted. */
  enterSignals: number;
  eventSignals: Record<string, number>;
  activityAttempts: number;
  timers: number;
  continueAsNew: number;
  upserts: number;
  updates: number;
  /** Markers other than patch markers, per workflow task (local activities, side effects). */
  markerTasks: number;
}

const emptyActions = (): Actions => ({ started: 0, enterSignals: 0, eventSignals: {}, activityAttempts: 0, timers: 0, continueAsNew: 0, upserts: 0, updates: 0, markerTasks: 0 });

/** Billable actions under Temporal Cloud's rules (docs.temporal.io/cloud/actions). */
function billable(a: Actions, signalWithStartAsTwo: boolean): number {
  const signals = Object.values(a.eventSignals).reduce((s, n) => s + n, 0) + (signalWithStartAsTwo ? a.enterSignals : 0);
  return a.started + signals + a.activityAttempts + a.timers + a.continueAsNew + a.upserts + a.updates + a.markerTasks;
}

const ms = (ts: HistoryEvent["eventTime"]) => (ts ? Number(String(ts.seconds)) * 1000 + (ts.nanos ?? 0) / 1e6 : 0);

function decodeSignal(event: HistoryEvent): { name: string; nodeId?: string } {
  const payload = event.workflowExecutionSignaledEventAttributes?.input?.payloads?.[0];
  try {
    const body = JSON.parse(Buffer.from(payload?.data ?? new Uint8Array()).toString("utf8")) as { event?: { name: string; properties?: { nodeId?: string } } };
    return { name: body.event?.name ?? "?", nodeId: body.event?.properties?.nodeId };
  } catch {
    return { name: "?" };
  }
}

/**
 * Counts, from one history: workflow started (and continue-as-new), each signal (the one of
 * signal-with-start apart), each activity attempt (the started event's `attempt`: retries are
 * billed, and do not appear as events of their own), each timer started, search-attribute and
 * memo upserts, accepted updates, and workflow tasks that recorded markers other than patches.
 * Workflow tasks are not billed. Queries are not in histories; this bench sends none.
 */
function countActions(history: History, into: Actions): { startToFirstTask: number | null } {
  const attempts = new Map<string, number>();
  let startedAt = 0;
  let firstTask: number | null = null;
  let markerInTask = false;
  for (const event of history.events ?? []) {
    if (event.workflowExecutionStartedEventAttributes) {
      into.started++;
      startedAt = ms(event.eventTime);
    } else if (event.workflowExecutionSignaledEventAttributes) {
      const signal = event.workflowExecutionSignaledEventAttributes.signalName;
      if (signal === ENTER_SIGNAL) into.enterSignals++;
      else {
        const { name, nodeId } = decodeSignal(event);
        const key = name === MESSAGE_DELIVERED_EVENT ? `${name} (${nodeId})` : name;
        into.eventSignals[key] = (into.eventSignals[key] ?? 0) + 1;
      }
    } else if (event.activityTaskScheduledEventAttributes) {
      attempts.set(String(event.eventId), 1);
    } else if (event.activityTaskStartedEventAttributes) {
      attempts.set(String(event.activityTaskStartedEventAttributes.scheduledEventId), Math.max(1, event.activityTaskStartedEventAttributes.attempt ?? 1));
    } else if (event.timerStartedEventAttributes) {
      into.timers++;
    } else if (event.workflowExecutionContinuedAsNewEventAttributes) {
      into.continueAsNew++;
    } else if (event.upsertWorkflowSearchAttributesEventAttributes || event.workflowPropertiesModifiedEventAttributes) {
      into.upserts++;
    } else if (event.workflowExecutionUpdateAcceptedEventAttributes) {
      into.updates++;
    } else if (event.markerRecordedEventAttributes && event.markerRecordedEventAttributes.markerName !== "core_patch") {
      markerInTask = true;
    } else if (event.workflowTaskCompletedEventAttributes) {
      if (firstTask === null) firstTask = ms(event.eventTime);
      if (markerInTask) into.markerTasks++;
      markerInTask = false;
    }
  }
  into.activityAttempts += [...attempts.values()].reduce((s, n) => s + n, 0);
  return { startToFirstTask: firstTask === null ? null : firstTask - startedAt };
}

async function histories(client: Client, ids: string[], each: (id: string, history: History) => void): Promise<void> {
  await parallelChunks(ids, 1, 16, async ([id]) => each(id, await client.workflow.getHandle(id).fetchHistory()));
}

// ------------------------------------------------------------------ the Temporal run

interface TemporalResult {
  elapsedMs: number;
  entryMs: number;
  processCpu: number;
  serverCpu: number | null;
  postgresCpu: number;
  finished: Record<string, number>;
  actions: Map<string, Actions>;
  users: Map<string, number>;
  startToFirstTask: number[];
  latencyUsers: number;
}

async function activeCount(db: Db, journeyId: string): Promise<number> {
  const [row] = await rows<{ n: number | string }>(db, sql`select count(*) as n from journey_instances where journey_id = ${journeyId}::uuid and status = 'active'`);
  return Number(row.n);
}

async function untilFinished(db: Db, journeyId: string): Promise<void> {
  const deadline = Date.now() + MAX_RUN_MS;
  while ((await activeCount(db, journeyId)) > 0) {
    if (Date.now() > deadline) throw new Error(`users still inside after ${MAX_RUN_MS / 60_000} min`);
    await sleep(200);
  }
}

async function temporalWinBack(database: Database, dbName: string, server: Server, bundle: { code: string }): Promise<TemporalResult> {
  const db = database.db;
  const setup = await setupWinBack(db, USERS, { programId: PROGRAM_ID });
  const settings: TemporalSettings = { address: server.address, namespace: process.env.TEMPORAL_NAMESPACE ?? "default", taskQueue: `waypost-bench-${randomUUID()}`, tls: false };
  const client = await connectClient(settings);
  const clock: JourneyClock = { origin: WINBACK_START, realOrigin: Date.now(), rate: RATE };
  // Entries at 09:00 and orders at 10:00 exactly (the embedded run's instants); afterwards the clock.
  let virtual: number | null = WINBACK_START;
  const now = () => virtual ?? journeyTime(clock, Date.now());
  const engine = createTemporalEngine({ db, now: () => new Date(now()), gateway: temporalGateway(client, settings.taskQueue) }, { clock });

  const sandbox = createSandboxSender({ db, now });
  const updater = createUserUpdater(db, now);
  const fetchLike: FetchLike = (url, init) => fetch(url, init);
  // The sandbox reports delivery at once, as a delivery event (what the app's channels do): the
  // push's delivery wait needs it.
  const executeAction: ActionExecutor = (type, ctx, config) => {
    const sendMessage = async (request: SendMessageRequest) => {
      const response = await ctx.services.sendMessage(request);
      if (response.status === "sent") {
        const name = MESSAGE_DELIVERED_EVENT;
        await engine.handleEvents([
          {
            workspaceId: ctx.workspaceId,
            userId: ctx.user.id,
            messageId: `${name}:${response.messageId}`,
            name,
            properties: { messageId: response.messageId, instanceId: ctx.instanceId, nodeId: ctx.nodeId, journeyId: ctx.journeyId, channel: request.channel },
            timestamp: ctx.now,
          },
        ]);
      }
      return response;
    };
    return executeNode(type, { ...ctx, services: { ...ctx.services, sendMessage } }, config);
  };
  const activities = createActivities({
    db,
    now,
    executeAction,
    actionServices: (workspaceId) => ({ sendMessage: sandbox.forWorkspace(workspaceId), updateUser: updater(workspaceId), fetch: fetchLike }),
  });
  const { worker, connection } = await createTemporalWorker({ settings, activities, workflowBundle: bundle });

  const pg = await postgresCpu(dbName);
  const cpu = process.cpuUsage();
  const serverBefore = server.pid ? cpuTicks(server.pid) : 0;
  const started = Date.now();
  await parallelChunks(segmentEntries(setup, WINBACK_START), 500, 2 * LANES, (chunk) => engine.handleEvents(chunk));
  virtual = ORDER_AT;
  await parallelChunks(orders(setup, ORDER_AT), 500, LANES, (chunk) => engine.handleEvents(chunk));
  virtual = null;
  const entryMs = Date.now() - started;
  const running = worker.run();
  try {
    await untilFinished(db, setup.journeyId);
    const elapsedMs = Date.now() - started;
    const processCpu = process.cpuUsage(cpu);
    const serverCpu = server.pid ? (cpuTicks(server.pid) - serverBefore) / 100 : null;
    const postgresSeconds = await pg();
    const finished = await finishedCounts(db, setup.journeyId);

    // Start → first action with the worker running: entries one call each at 100/s.
    const latencyIds = Array.from({ length: LATENCY_USERS }, (_, i) => `lat${String(i).padStart(6, "0")}`);
    await rows(
      db,
      sql`insert into users (workspace_id, id, traits, timezone) select ${setup.workspaceId}::uuid, u, '{}'::jsonb, 'Asia/Shanghai' from unnest(${arr(latencyIds)}::text[]) as d(u)`,
    );
    const latencyStart = performance.now();
    const calls: Promise<void>[] = [];
    for (const [i, event] of segmentEntries({ ...setup, ids: latencyIds }, 0).entries()) {
      const wait = latencyStart + i * 10 - performance.now();
      if (wait > 0) await sleep(wait);
      calls.push(engine.handleEvents([{ ...event, timestamp: now() }]));
    }
    await Promise.all(calls);
    await untilFinished(db, setup.journeyId);

    const instances = await rows<{ id: string; user_id: string; reason: string; holdout: boolean }>(
      db,
      sql`select id, user_id, reason, coalesce((state ->> 'holdout')::boolean, false) as holdout from journey_instances where journey_id = ${setup.journeyId}::uuid`,
    );
    const pathOf = new Map(instances.map((i) => [i.id, i.user_id.startsWith("lat") ? "latency" : i.holdout ? "holdout" : i.reason === "goal" ? "goal (ordered before the send hour)" : "full path (exit node)"]));
    const actions = new Map<string, Actions>();
    const users = new Map<string, number>();
    const startToFirstTask: number[] = [];
    await histories(
      client,
      instances.map((i) => i.id),
      (id, history) => {
        const path = pathOf.get(id)!;
        const a = actions.get(path) ?? emptyActions();
        actions.set(path, a);
        users.set(path, (users.get(path) ?? 0) + 1);
        const { startToFirstTask: latency } = countActions(history, a);
        if (path === "latency" && latency !== null) startToFirstTask.push(latency);
      },
    );
    startToFirstTask.sort((x, y) => x - y);
    return {
      elapsedMs,
      entryMs,
      processCpu: (processCpu.user + processCpu.system) / 1e6,
      serverCpu,
      postgresCpu: postgresSeconds,
      finished,
      actions,
      users,
      startToFirstTask,
      latencyUsers: LATENCY_USERS,
    };
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
    await client.connection.close();
  }
}

// ------------------------------------------------------------------ main

const machine = `${cpus().length} cores (${cpus()[0]?.model.trim()}), load average ${loadavg().map((l) => l.toFixed(1)).join(" / ")}`;
console.log(`Waypost Temporal benchmark — ${machine}; ${fmt(USERS)} users through the win-back journey on each engine`);

const server = temporalServer();
try {
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { info: () => {}, warn: console.warn, error: console.error, debug: () => {}, trace: () => {}, log: () => {} } });

  const embedded: WinBackResult = await withDatabase((database, url) =>
    embeddedWinBack(database, new URL(url).pathname.slice(1), { users: USERS, lanes: LANES, orderAt: ORDER_AT, programId: PROGRAM_ID }),
  );
  const embeddedRate = embedded.steps / (embedded.elapsedMs / 1000);
  const embeddedCpu = embedded.nodeCpuMicros + embedded.postgresCpuMicros;
  console.log(`\n1. Embedded engine (load average ${embedded.load.toFixed(1)}): ${fmt(embedded.steps)} user-steps, ${fmt(embedded.actions)} side effects in ${seconds(embedded.elapsedMs)} (entries ${seconds(embedded.entryMs)})`);
  console.log(`   finished: ${Object.entries(embedded.finished).map(([k, v]) => `${k} ${fmt(v)}`).join(", ")}`);

  const temporal = await withDatabase((database, url) => temporalWinBack(database, new URL(url).pathname.slice(1), server, { code: bundle.code }));
  const steps = embedded.steps;
  const temporalRate = steps / (temporal.elapsedMs / 1000);
  const micros = (s: number) => (s / steps) * 1e6;
  const temporalCpu = micros(temporal.processCpu) + (temporal.serverCpu ?? 0) / steps * 1e6 + micros(temporal.postgresCpu);
  const same = JSON.stringify(temporal.finished) === JSON.stringify(embedded.finished);
  console.log(`\n2. Temporal (${server.address}): ${seconds(temporal.elapsedMs)} (entries and orders ${seconds(temporal.entryMs)}, before the worker polled)`);
  console.log(`   finished: ${Object.entries(temporal.finished).map(([k, v]) => `${k} ${fmt(v)}`).join(", ")}${same ? " — the embedded run's paths" : " — DIFFERENT from the embedded run: the user-step rate below is an estimate"}`);

  const row = (label: string, e: string, t: string, ratio = "") => console.log(`   ${label.padEnd(44)} ${e.padStart(14)} ${t.padStart(14)} ${ratio.padStart(10)}`);
  console.log(`\n   ${"".padEnd(44)} ${"embedded".padStart(14)} ${"Temporal".padStart(14)} ${"ratio".padStart(10)}`);
  row("user-steps/s", fmt(embeddedRate), fmt(temporalRate), `${(embeddedRate / temporalRate).toFixed(1)}×`);
  row("CPU per user-step, all processes (µs)", embeddedCpu.toFixed(0), temporalCpu.toFixed(0), `${(temporalCpu / embeddedCpu).toFixed(1)}×`);
  row("· Node process: engine, worker, activities", embedded.nodeCpuMicros.toFixed(0), micros(temporal.processCpu).toFixed(0));
  row("· Temporal server", "—", temporal.serverCpu === null ? "not measured" : micros(temporal.serverCpu).toFixed(0));
  row("· PostgreSQL", embedded.postgresCpuMicros.toFixed(0), micros(temporal.postgresCpu).toFixed(0));
  row(`CPU-bound estimate on ${cpus().length} idle cores (steps/s)`, fmt((cpus().length * 1e6) / embeddedCpu), fmt((cpus().length * 1e6) / temporalCpu));

  console.log(`\n3. Billable actions per user, from ${fmt([...temporal.users.values()].reduce((s, n) => s + n, 0))} real histories (Temporal Cloud rules; signal-with-start = 1 action, as decision 0501 counted it: 2)`);
  const total = emptyActions();
  let mainUsers = 0;
  for (const [path, a] of temporal.actions) {
    const n = temporal.users.get(path)!;
    const per = (x: number) => (x / n).toFixed(2);
    const signals = Object.entries(a.eventSignals).map(([k, v]) => `${k} ${per(v)}`).join(", ") || "none";
    console.log(`   ${path} (${fmt(n)} users): ${per(billable(a, false))} (${per(billable(a, true))}) — start ${per(a.started)}, enter signal ${per(a.enterSignals)}, event signals ${signals}, activity attempts ${per(a.activityAttempts)}, timers ${per(a.timers)}, continue-as-new ${per(a.continueAsNew)}, upserts ${per(a.upserts)}, updates ${per(a.updates)}, marker tasks ${per(a.markerTasks)}`);
    if (path === "latency") continue;
    mainUsers += n;
    for (const key of ["started", "enterSignals", "activityAttempts", "timers", "continueAsNew", "upserts", "updates", "markerTasks"] as const) total[key] += a[key];
    for (const [k, v] of Object.entries(a.eventSignals)) total.eventSignals[k] = (total.eventSignals[k] ?? 0) + v;
  }
  console.log(`   all ${fmt(mainUsers)} users of the run: ${(billable(total, false) / mainUsers).toFixed(2)} per user (${(billable(total, true) / mainUsers).toFixed(2)}); target ≤ 12`);

  const lat = temporal.startToFirstTask;
  console.log(`\n4. Start → first action (first workflow task completed), ${fmt(temporal.latencyUsers)} entries at 100/s: p50 ${percentile(lat, 0.5).toFixed(0)} ms, p99 ${percentile(lat, 0.99).toFixed(0)} ms, max ${(lat.at(-1) ?? 0).toFixed(0)} ms`);
} finally {
  server.stop();
}
