/**
 * `npm run bench:analytics` — the canvas numbers and the journey report of one journey with
 * 10,000,000 node events, on PostgreSQL, beside a plain `count(*)` over the same rows in the same
 * run (docs/analytics.md "Fast at scale", decisions 0800 and 0860).
 *
 * 1. Generates the journey in SQL (generate_series, one statement per 100,000 users): ~900,000
 *    users over 30 days with profiles in five zones (one invalid, one missing), two published
 *    versions, a split, a push with delivery reports, a wait whose awaited event is the goal,
 *    timeouts to Exit, send failures; instances in `journey_instances`, node events in
 *    `journey_node_events` — written through the rollup and send triggers, as the engines write —
 *    then ~1,000,000 tracked events (orders, app opens, delivery reports) through the events trigger.
 * 2. Write path, same rows with the triggers and without them (session_replication_role =
 *    replica): 100,000 more node events in statements the size of an engine batch, and events in
 *    statements the size of an ingestion batch for users messaged the day before.
 * 3. Reads, each cold (first run: pending rollup rows not yet folded) and warm (median of 5):
 *    `count(*)` of the journey's node events (the baseline); the canvas numbers (journeyStats);
 *    the report's parts (versions, charts per entry hour, funnel/splits/loss reasons, send hours,
 *    return rates — any tracked event and a chosen one) for all users and for the last 7 days'
 *    users; the whole report (journeyReport); and, for comparison, the queries they replaced
 *    (GROUP BY over the raw node events; send hours and returns from the raw tables).
 *
 * Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), BENCH_EVENTS (default
 * 10,000,000), BENCH_KEEP=1 keeps the database. Target: canvas numbers under 300 ms warm.
 */
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { branchCounts, funnel, journeyStats, journeyStatsByVersion, lossReasons, returnRates, rollupRows, sendHourConversions } from "../app/lib/analytics.server";
import { createJourney, publishJourney, saveDraft, startEditing } from "../app/lib/journeys.server";
import { journeyReport } from "../app/lib/report.server";
import { messageReturns, sendHours } from "../app/lib/report-queries.server";
import { query, type Database } from "../db/client";
import { buildJourney } from "../workflows/builder";
import { DAY, HOUR, fmt, withDatabase } from "./winback";

const TARGET_EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000_000);
const START = Date.parse("2024-05-01T00:00:00.000Z");
const SPAN_MS = 30 * DAY;
const CHUNK = 100_000;

/**
 * Paths by `g % 20` (events per user): 0–3 goal at the wait (10), 4 inside, watched at Exit (10),
 * 5–14 timed out, delivered, finished at Exit (12), 15–18 timed out, finished (11), 19 push failed (9).
 */
const PATHS = `
  (values
    -- prefix: every path
    ('all', 1, 'trigger', 'entered', null, null, null, null, 0),
    ('all', 2, 'trigger', 'left', 'next', null, null, null, 0),
    ('all', 3, 'ab', 'entered', null, null, null, null, 0),
    ('all', 4, 'ab', 'left', 'AB', null, null, null, 0),
    ('all', 5, 'push', 'entered', null, null, null, null, 0),
    -- goal at the wait
    ('goal', 6, 'push', 'message', null, null, 'sent', 'push', 60),
    ('goal', 7, 'push', 'left', 'sent', null, null, null, 60),
    ('goal', 8, 'wait_order', 'entered', null, null, null, null, 60),
    ('goal', 9, 'wait_order', 'conversion', null, null, null, null, 7200),
    ('goal', 10, 'wait_order', 'exit', null, 'goal', null, null, 7200),
    -- timed out, at Exit (inside, or finished)
    ('timeout', 6, 'push', 'message', null, null, 'sent', 'push', 60),
    ('timeout', 7, 'push', 'left', 'sent', null, null, null, 60),
    ('timeout', 8, 'wait_order', 'entered', null, null, null, null, 60),
    ('timeout', 9, 'wait_order', 'left', 'timed_out', null, null, null, 86400),
    ('timeout', 10, 'exit', 'entered', null, null, null, null, 86400),
    ('finished', 11, 'exit', 'exit', null, 'exit_node', null, null, 604800),
    ('delivered', -1, 'push', 'delivery', null, null, 'delivered', 'push', 120),
    -- push failed
    ('failed', 6, 'push', 'message', null, 'invalid_token', 'failed', 'push', 60),
    ('failed', 7, 'push', 'left', 'failed', 'invalid_token', null, null, 60),
    ('failed', 8, 'exit', 'entered', null, null, null, null, 60),
    ('failed', 9, 'exit', 'exit', null, 'exit_node', null, null, 604800)
  ) as t(path, seq, node_id, kind, output, reason, status, channel, after_s)`;

/** Which template rows a user (g) gets. */
const PATH_OF = `
  case when t.path = 'all' then true
       when t.path = 'goal' then g % 20 < 4
       when t.path = 'timeout' then g % 20 between 4 and 18
       when t.path = 'finished' then g % 20 between 5 and 18
       when t.path = 'delivered' then g % 20 between 5 and 14
       when t.path = 'failed' then g % 20 = 19
  end`;

const EVENTS_PER_USER = (4 * 10 + 1 * 10 + 10 * 12 + 4 * 11 + 1 * 9) / 20;

interface Timing {
  cold: number;
  warm: number;
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const value = await fn();
  return [performance.now() - started, value];
}

/** First run (cold), then the median of `repeats` (warm; five, three for the slow raw queries). */
async function coldWarm(fn: () => Promise<unknown>, repeats = 5): Promise<Timing> {
  const [cold] = await timed(fn);
  const warm: number[] = [];
  for (let i = 0; i < repeats; i += 1) warm.push((await timed(fn))[0]);
  warm.sort((a, b) => a - b);
  return { cold, warm: warm[Math.floor(repeats / 2)] };
}

const ms = (n: number) => `${n < 10 ? n.toFixed(1) : Math.round(n)} ms`;

async function generate(client: postgres.Sql, ids: { workspace: string; journey: string; v1: string; v2: string }, users: number, offset = 0, chunk = CHUNK): Promise<void> {
  for (let lo = offset + 1; lo <= offset + users; lo += chunk) {
    const hi = Math.min(offset + users, lo + chunk - 1);
    // One user per g: entered evenly over 30 days, version 2 from day 18; path by g % 20.
    const entered = `(timestamptz '${new Date(START).toISOString()}' + (g::float8 / ${offset + users} * ${SPAN_MS / 1000}) * interval '1 second')`;
    const version = `case when g > ${Math.floor((offset + users) * 0.6)} then '${ids.v2}'::uuid else '${ids.v1}'::uuid end`;
    const instance = `lpad(to_hex(g), 32, '0')::uuid`;
    // Profiles: 70 % Shanghai, 15 % New York (DST), 5 % London, 5 % an invalid zone, 5 % none
    // (both fall back to the workspace's zone). The send trigger reads them.
    await client.unsafe(`
      insert into users (workspace_id, id, timezone, first_seen_at, last_seen_at)
      select '${ids.workspace}', 'user-' || g,
             case when g % 20 < 14 then 'Asia/Shanghai' when g % 20 < 17 then 'America/New_York' when g % 20 = 17 then 'Europe/London'
                  when g % 20 = 18 then 'Mars/Olympus_Mons' end,
             ${entered}, ${entered}
      from generate_series(${lo}, ${hi}) as g
      on conflict do nothing`);
    await client.unsafe(`
      insert into journey_instances (id, workspace_id, journey_id, version_id, user_id, entry_key, status, reason, node_id, holdout, state, entered_at, updated_at, completed_at)
      select ${instance}, '${ids.workspace}', '${ids.journey}', ${version}, 'user-' || g, 'e',
             case when g % 20 = 4 then 'active' else 'completed' end,
             case when g % 20 = 4 then null when g % 20 < 4 then 'goal' else 'exit_node' end,
             case when g % 20 = 4 then 'exit' when g % 20 < 4 then 'wait_order' else 'exit' end,
             false, '{}'::jsonb, ${entered}, ${entered}, null
      from generate_series(${lo}, ${hi}) as g`);
    await client.unsafe(`
      insert into journey_node_events (instance_id, seq, workspace_id, journey_id, version_id, user_id, node_id, kind, output, reason, message_status, channel, data, at)
      select ${instance}, t.seq, '${ids.workspace}', '${ids.journey}', ${version}, 'user-' || g, t.node_id, t.kind,
             case when t.output = 'AB' then (case when g % 2 = 0 then 'a' else 'b' end) else t.output end,
             t.reason, t.status, t.channel,
             case when t.kind = 'conversion'
                  then jsonb_build_object('event', 'order_completed', 'attributedNodeId', 'push', 'holdout', false,
                                          'path', jsonb_build_array(jsonb_build_object('nodeId', 'ab', 'output', case when g % 2 = 0 then 'a' else 'b' end)))
             end,
             ${entered} + t.after_s * interval '1 second'
      from generate_series(${lo}, ${hi}) as g
      join ${PATHS} on ${PATH_OF}`);
  }
}

/**
 * Tracked events of users lo..hi (as ingestion stores them, after the sends): the goal path's
 * order at the conversion (2 h after entry), an app open for every third user 20–180 h after
 * entry, and a `$message.delivered` report (not a return) for the delivered path.
 */
async function generateEvents(client: postgres.Sql, ids: { workspace: string }, total: number, lo: number, hi: number, chunk = CHUNK): Promise<void> {
  for (let a = lo; a <= hi; a += chunk) {
    const b = Math.min(hi, a + chunk - 1);
    const entered = `(timestamptz '${new Date(START).toISOString()}' + (g::float8 / ${total} * ${SPAN_MS / 1000}) * interval '1 second')`;
    await client.unsafe(`
      insert into events (workspace_id, message_id, user_id, type, name, properties, timestamp, received_at)
      select '${ids.workspace}', 'bench-' || g || '-' || e.name, 'user-' || g, 'track', e.name, '{}'::jsonb,
             ${entered} + e.after_s * interval '1 second', ${entered} + e.after_s * interval '1 second'
      from generate_series(${a}, ${b}) as g
      cross join lateral (values ('order_completed', 7200, g % 20 < 4),
                                 ('app_opened', 72000 + (g % 9) * 72000, g % 3 = 0),
                                 ('$message.delivered', 120, g % 20 between 5 and 14)) as e(name, after_s, wanted)
      where e.wanted`);
  }
}

async function main(): Promise<void> {
  const users = Math.round(TARGET_EVENTS / EVENTS_PER_USER);
  await withDatabase(async (database: Database, url: string) => {
    const client = postgres(url, { max: 1, onnotice: () => {}, connection: { statement_timeout: 0 } as never });
    const db = database.db;
    const [workspace] = await query<{ id: string }>(db, sql`insert into workspaces (name) values ('bench analytics') returning id`);
    const document = buildJourney({
      name: "bench analytics",
      settings: { entry: { rule: "once" }, holdoutPercent: 0, goal: { event: "order_completed", filters: [], windowMs: 7 * DAY }, exitEvents: [] },
      nodes: [
        { id: "trigger", type: "core.trigger", config: { source: "api" } },
        { id: "ab", type: "core.split", config: { branches: [{ id: "a", label: "A", percent: 50 }, { id: "b", label: "B", percent: 50 }] } },
        { id: "push", type: "core.push", config: { title: "¥10", body: "券已到账" } },
        { id: "wait_order", type: "core.wait-for-event", config: { event: "order_completed", filters: [], timeout: { amount: 1, unit: "days" } } },
        { id: "exit", type: "core.exit", config: {} },
      ],
      edges: [
        ["trigger", "next", "ab"],
        ["ab", "a", "push"],
        ["ab", "b", "push"],
        ["push", "sent", "wait_order"],
        ["push", "failed", "exit"],
        ["wait_order", "happened", "exit"],
        ["wait_order", "timed_out", "exit"],
      ],
    });
    const actor = { workspaceId: workspace.id };
    const journey = await createJourney(db, actor, { name: "bench analytics", document });
    const v1 = await publishJourney(db, actor, { journeyId: journey.id });
    const { revision } = await startEditing(db, actor, journey.id);
    await saveDraft(db, actor, { journeyId: journey.id, baseRevision: revision, document });
    const v2 = await publishJourney(db, actor, { journeyId: journey.id });
    if (!v1.ok || !v2.ok) throw new Error("the bench journey does not publish");
    const ids = { workspace: workspace.id, journey: journey.id, v1: v1.versionId, v2: v2.versionId };

    console.log(`bench:analytics on PostgreSQL — ${fmt(users)} users, ~${fmt(users * EVENTS_PER_USER)} node events`);
    // Bulk load as a restore would: the node events' (journey, at) index is built once afterwards
    // (the triggers stay on; the send trigger looks conversions up by the primary key, kept).
    await client.unsafe("drop index journey_node_events_journey_idx");
    const [genMs] = await timed(() => generate(client, ids, users));
    const [indexMs] = await timed(() => client.unsafe("create index journey_node_events_journey_idx on journey_node_events (journey_id, at)"));
    const [eventsMs] = await timed(() => generateEvents(client, ids, users, 1, users));
    await client.unsafe("analyze journey_node_events; analyze journey_instances; analyze journey_node_rollup_pending; analyze events; analyze users; analyze journey_message_sends; analyze journey_message_rollup_pending");
    const count = async (text: string) => Number((await client.unsafe(text))[0].n);
    const total = await count(`select count(*)::bigint as n from journey_node_events where journey_id = '${ids.journey}'`);
    const tracked = await count(`select count(*)::bigint as n from events where workspace_id = '${ids.workspace}'`);
    console.log(
      `generated ${fmt(total)} node events in ${(genMs / 1000).toFixed(1)} s (${fmt(total / (genMs / 1000))} rows/s, with profiles; rollup and send triggers on), their (journey, at) index in ${(indexMs / 1000).toFixed(1)} s; ${fmt(tracked)} tracked events in ${(eventsMs / 1000).toFixed(1)} s (events trigger on)`,
    );
    console.log(
      `rollups: ${fmt(await count(`select count(*)::bigint as n from journey_node_rollup_pending where journey_id = '${ids.journey}'`))} pending node rollup rows; ${fmt(await count(`select count(*)::bigint as n from journey_message_sends where journey_id = '${ids.journey}'`))} sends in journey_message_sends, ${fmt(await count(`select count(*)::bigint as n from journey_message_rollup_pending where journey_id = '${ids.journey}'`))} pending message rollup rows`,
    );

    // 2. The triggers' cost on the write path, same rows with and without them.
    const extra = 10_000;
    const other = { ...ids, journey: (await createJourney(db, { workspaceId: workspace.id }, { name: "bench write", document })).id };
    // Statements of ~1,100 node events, about what one engine batch of 500 steps writes.
    const perStatement = 100;
    // Three ways, same rows: no triggers at all; the node rollup trigger only (as before decision
    // 0860); the node rollup and the send triggers (now).
    const sendTriggers = ["journey_node_events_sends_insert", "journey_message_sends_rollup_insert"];
    const round = async (mode: "none" | "rollup" | "all") => {
      if (mode === "none") await client.unsafe("set session_replication_role = replica");
      if (mode === "rollup") for (const t of sendTriggers) await client.unsafe(`alter table ${t.startsWith("journey_node") ? "journey_node_events" : "journey_message_sends"} disable trigger ${t}`);
      const [took] = await timed(() => generate(client, other, extra, users + 10, perStatement));
      if (mode === "none") await client.unsafe("set session_replication_role = origin");
      if (mode === "rollup") for (const t of sendTriggers) await client.unsafe(`alter table ${t.startsWith("journey_node") ? "journey_node_events" : "journey_message_sends"} enable trigger ${t}`);
      await client.unsafe(`delete from journey_node_events where journey_id = '${other.journey}'`);
      await client.unsafe(`delete from journey_instances where journey_id = '${other.journey}'`);
      return took;
    };
    // Alternating rounds: the machine's other load changes between them; medians are compared.
    const times = { none: [] as number[], rollup: [] as number[], all: [] as number[] };
    for (let i = 0; i < 3; i += 1) {
      for (const mode of ["none", "rollup", "all"] as const) times[mode].push(await round(mode));
    }
    const median = (list: number[]) => [...list].sort((a, b) => a - b)[1];
    const written = Math.round(extra * EVENTS_PER_USER);
    console.log(
      `write path (${fmt(written)} node events + ${fmt(extra)} instances, statements of ~${fmt(perStatement * EVENTS_PER_USER)} events, median of 3): no triggers ${ms(median(times.none))}; node rollup trigger ${ms(median(times.rollup))} (×${(median(times.rollup) / median(times.none)).toFixed(2)}); node rollup + send triggers ${ms(median(times.all))} (×${(median(times.all) / median(times.none)).toFixed(2)})`,
    );
    // Tracked events in statements of 500 (an ingestion batch), with the events trigger and without.
    // "Live": 10,000 events of users drawn from all 30 days, stamped an hour after the last entry,
    // as ingestion would see them now (only users messaged in the 7 days before who have not come
    // back yet update anything). "All first returns": 10,000 events of users messaged the day
    // before, each earlier than anything they did since (every event updates a send).
    const eventRound = async (kind: "live" | "first", triggers: boolean) => {
      const ts =
        kind === "live"
          ? `timestamptz '${new Date(START + SPAN_MS + HOUR).toISOString()}'`
          : `(timestamptz '${new Date(START).toISOString()}' + (g::float8 / ${users} * ${SPAN_MS / 1000}) * interval '1 second' + interval '10 hours')`;
      const pick = kind === "live" ? `((g * 7919) % ${users}) + 1` : "g";
      const lo = kind === "live" ? 1 : users - 20_000 + 1;
      const insert = async () => {
        for (let a = lo; a < lo + 20_000; a += 1_000) {
          await client.unsafe(`
            insert into events (workspace_id, message_id, user_id, type, name, properties, timestamp, received_at)
            select '${ids.workspace}', 'write-' || g, 'user-' || ${pick}, 'track', 'app_searched', '{}'::jsonb, ${ts}, ${ts}
            from generate_series(${a}, ${a + 999}) as g where g % 2 = 0`);
        }
      };
      // Only this trigger off: the events' foreign key check stays on in both rounds.
      if (!triggers) await client.unsafe("alter table events disable trigger events_message_returns_insert");
      const [took] = await timed(insert);
      if (!triggers) await client.unsafe("alter table events enable trigger events_message_returns_insert");
      await client.unsafe(`delete from events where workspace_id = '${ids.workspace}' and name = 'app_searched'`);
      return took;
    };
    for (const kind of ["live", "first"] as const) {
      const eventsWith: number[] = [];
      const eventsWithout: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        eventsWithout.push(await eventRound(kind, false));
        eventsWith.push(await eventRound(kind, true));
      }
      console.log(
        `write path (10,000 tracked events, ${kind === "live" ? "live: users of all 30 days, stamped now" : "all first returns: users messaged the day before"}, statements of 500, median of 3): with the events trigger ${ms(median(eventsWith))}, without ${ms(median(eventsWithout))} — ×${(median(eventsWith) / median(eventsWithout)).toFixed(2)}`,
      );
    }

    // 3. Reads.
    const j = ids.journey;
    const rows: Array<[string, Timing]> = [];
    rows.push(["count(*) of the journey's node events (baseline)", await coldWarm(() => client.unsafe(`select count(*) from journey_node_events where journey_id = '${j}'`))]);
    rows.push(["canvas numbers (journeyStats, rollups)", await coldWarm(() => journeyStats(db, workspace.id, j))]);
    rows.push(["canvas numbers, version 2", await coldWarm(() => journeyStats(db, workspace.id, j, { versionId: ids.v2 }))]);
    rows.push(["canvas numbers, users who entered in the last 7 days", await coldWarm(() => journeyStats(db, workspace.id, j, { from: START + SPAN_MS - 7 * DAY }))]);
    rows.push(["report: both versions side by side", await coldWarm(() => journeyStatsByVersion(db, workspace.id, j))]);
    rows.push(["report: per entry hour (charts)", await coldWarm(() => rollupRows(db, j, {}, { byCohort: true }))]);
    rows.push([
      "report: funnel + split counts + loss reasons",
      await coldWarm(async () => {
        const stats = await journeyStats(db, workspace.id, j);
        funnel(stats, [{ nodeId: "push", channel: "push" }]);
        branchCounts(stats, "ab");
        lossReasons(await rollupRows(db, j, {}, { kinds: ["message", "delivery"] }));
      }),
    ]);
    const lastWeek = { from: START + SPAN_MS - 7 * DAY };
    rows.push(["report: conversion by local send hour, all users (rollup)", await coldWarm(() => sendHours(db, workspace.id, j))]);
    rows.push(["report: conversion by local send hour, last 7 days' users", await coldWarm(() => sendHours(db, workspace.id, j, lastWeek))]);
    rows.push(["report: return rates d1/d3/d7, all users (rollup)", await coldWarm(() => messageReturns(db, workspace.id, j))]);
    rows.push(["report: return rates d1/d3/d7, last 7 days' users", await coldWarm(() => messageReturns(db, workspace.id, j, lastWeek))]);
    rows.push(["report: return rates, chosen event, last 7 days' users", await coldWarm(() => messageReturns(db, workspace.id, j, lastWeek, { event: "order_completed" }))]);
    rows.push(["report: return rates, chosen event, all users", await coldWarm(() => messageReturns(db, workspace.id, j, {}, { event: "order_completed" }))]);
    rows.push(["whole report (journeyReport), all users", await coldWarm(() => journeyReport(db, workspace.id, j))]);
    rows.push(["whole report, last 7 days' users", await coldWarm(() => journeyReport(db, workspace.id, j, { from: new Date(lastWeek.from) }))]);
    rows.push(["whole report, last 7 days, chosen return event", await coldWarm(() => journeyReport(db, workspace.id, j, { from: new Date(lastWeek.from), returnEvent: "order_completed" }))]);
    rows.push([
      "before rollups: GROUP BY over the raw node events",
      await coldWarm(() =>
        client.unsafe(`select node_id, kind, output, message_status, reason, count(*) from journey_node_events where journey_id = '${j}' group by 1, 2, 3, 4, 5`),
      ),
    ]);
    rows.push(["before: send hour from the raw tables, last 7 days' users", await coldWarm(() => sendHourConversions(db, workspace.id, j, lastWeek), 3)]);
    rows.push(["before: return rates from the raw tables, last 7 days' users", await coldWarm(() => returnRates(db, workspace.id, j, lastWeek), 3)]);
    const baseline = rows[0][1];
    const width = Math.max(...rows.map(([name]) => name.length));
    console.log(`\n${"query".padEnd(width)}  ${"cold".padStart(9)}  ${"warm".padStart(9)}  ×count(*) warm`);
    for (const [name, t] of rows) console.log(`${name.padEnd(width)}  ${ms(t.cold).padStart(9)}  ${ms(t.warm).padStart(9)}  ${(t.warm / baseline.warm).toFixed(3)}`);
    const canvas = rows[1][1];
    console.log(`\ncanvas numbers warm: ${ms(canvas.warm)} (target < 300 ms: ${canvas.warm < 300 ? "met" : "NOT met"}); ${(baseline.warm / canvas.warm).toFixed(0)}× faster than count(*) over the same rows`);
    const report = rows.find(([name]) => name.startsWith("whole report (journeyReport)"))![1];
    console.log(`whole report warm: ${ms(report.warm)} (${(report.warm / baseline.warm).toFixed(3)} × count(*)), cold ${ms(report.cold)}`);
    // The rollups answer what the raw tables answer (same users, zones unchanged since the sends).
    const [hoursRollup, hoursRaw, returnsRollup, returnsRaw] = await Promise.all([
      sendHours(db, workspace.id, j, lastWeek),
      sendHourConversions(db, workspace.id, j, lastWeek),
      messageReturns(db, workspace.id, j, lastWeek),
      returnRates(db, workspace.id, j, lastWeek),
    ]);
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    console.log(
      `check: last 7 days' send hours rollup = raw: ${same(hoursRollup, hoursRaw) ? "yes" : "NO"}; return rates rollup = raw: ${same(returnsRollup, returnsRaw) ? "yes" : "NO"} (${fmt(returnsRollup.messaged)} messaged, day 1/3/7 ${returnsRollup.days.map((d) => `${(d.rate * 100).toFixed(1)} %`).join(" / ")})`,
    );
    const check = await journeyStats(db, workspace.id, j);
    console.log(`check: ${fmt(check.totals.entered)} entered, ${fmt(check.totals.inside)} inside, wait_order ${JSON.stringify({ entered: check.nodes.wait_order.entered, left: check.nodes.wait_order.left, exits: check.nodes.wait_order.exits })}`);
    await client.end();
  });
}

await main();
