import { sql } from "drizzle-orm";
import { entryDecision, type EntryCounters, type EntryRejection, type PriorEntry } from "../entry";
import { hash32 } from "../hash";
import type { JourneyProgram } from "../program";
import type { Inst } from "./batch.server";
import { arr, epochMs, iso, keyLookup, rows, toMs, type Conn } from "./db.server";

/**
 * Entry rules and caps under concurrency.
 *
 * - once / cooldown: the (journey, user) row of `journey_entry_ledger` is upserted first, which
 *   row-locks it: two transactions admitting the same user into the same journey are serialised
 *   and the second reads what the first committed. Rows are taken in sorted order, so
 *   concurrent batches cannot deadlock on them.
 * - caps: one advisory lock per capped journey, then counts of recent entries.
 * - every rule: the entry key (the event's messageId) is looked up, so a redelivered event
 *   starts nothing, and the unique index on it backs that up.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Advisory-lock namespace (high 32 bits), so engine locks never collide with other areas'. */
const CAP_LOCK = 0x5750_0002n;

export interface EntryCandidate {
  journeyId: string;
  versionId: string;
  userId: string;
  entryKey: string;
  program: JourneyProgram;
}

export type GateDecision = { kind: "enter" } | { kind: "rejected"; reason: EntryRejection } | { kind: "duplicate" };

interface Ledger {
  entries: number;
  lastEnteredAt: number | null;
  /** Whether a previous instance is still inside (known for cooldown journeys only). */
  active: () => boolean;
}

const pairKey = (journeyId: string, userId: string) => `${journeyId}\u0000${userId}`;

export class EntryGate {
  /** Entered in this batch, for the ledger write. */
  readonly admitted = new Map<string, { journeyId: string; userId: string; count: number; last: number }>();

  private constructor(
    private readonly ledgers: Map<string, Ledger>,
    private readonly keys: Set<string>,
    private readonly counters: Map<string, { times: number[]; total: number }>,
  ) {}

  /** Locks, then loads the ledger, used entry keys and cap counters for every candidate. */
  static async prepare(tx: Conn, candidates: readonly EntryCandidate[], now: number): Promise<EntryGate> {
    const ledgers = new Map<string, Ledger>();
    const keys = new Set<string>();
    const counters = new Map<string, { times: number[]; total: number }>();
    if (candidates.length === 0) return new EntryGate(ledgers, keys, counters);

    const ruled = [...new Map(candidates.filter((c) => c.program.settings.entry.rule !== "concurrent").map((c) => [pairKey(c.journeyId, c.userId), c])).values()].sort(
      (a, b) => (a.journeyId !== b.journeyId ? (a.journeyId < b.journeyId ? -1 : 1) : a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0),
    );
    if (ruled.length > 0) {
      // The no-op update makes ON CONFLICT lock and return existing rows too.
      const found = await rows<{ journey_id: string; user_id: string; entries: number; last: number | null }>(
        tx,
        sql`insert into journey_entry_ledger (journey_id, user_id)
            select * from unnest(${arr(ruled.map((c) => c.journeyId))}::uuid[], ${arr(ruled.map((c) => c.userId))}::text[])
            on conflict (journey_id, user_id) do update set entries = journey_entry_ledger.entries
            returning journey_id, user_id, entries, ${epochMs(sql`last_entered_at`)} as last`,
      );
      for (const row of found) ledgers.set(pairKey(row.journey_id, row.user_id), { entries: row.entries, lastEnteredAt: toMs(row.last), active: () => false });
    }

    const capped = [...new Set(candidates.filter((c) => hasCaps(c.program)).map((c) => c.journeyId))].sort();
    if (capped.length > 0) {
      const locks = capped.map((j) => ((CAP_LOCK << 32n) | BigInt(hash32(j))).toString()).sort();
      // unnest keeps array order, so every transaction takes the locks in the same (sorted) order.
      await rows(tx, sql`select count(pg_advisory_xact_lock(k)) as locked from unnest(${arr(locks)}::bigint[]) as k`);
    }

    // Read only now, under the locks: what a racing transaction committed is visible.
    const cooldown = ruled.filter((c) => c.program.settings.entry.rule === "cooldown" && (ledgers.get(pairKey(c.journeyId, c.userId))?.entries ?? 0) > 0);
    const [used, active, counts] = await Promise.all([
      rows<{ journey_id: string; user_id: string; entry_key: string }>(
        tx,
        sql`select i.journey_id, i.user_id, i.entry_key
            from unnest(${arr(candidates.map((c) => c.journeyId))}::uuid[], ${arr(candidates.map((c) => c.userId))}::text[], ${arr(candidates.map((c) => c.entryKey))}::text[]) as k(j, u, e)
            ${keyLookup("journey_instances", "i", sql`i.journey_id = k.j and i.user_id = k.u and i.entry_key = k.e`)}`,
      ),
      cooldown.length === 0
        ? Promise.resolve([])
        : rows<{ journey_id: string; user_id: string }>(
            tx,
            sql`select distinct i.journey_id, i.user_id
                from unnest(${arr(cooldown.map((c) => c.journeyId))}::uuid[], ${arr(cooldown.map((c) => c.userId))}::text[]) as k(j, u)
                ${keyLookup("journey_instances", "i", sql`i.journey_id = k.j and i.user_id = k.u and i.status = 'active'`, { many: true })}`,
          ),
      capped.length === 0
        ? Promise.resolve([])
        : rows<{ journey_id: string; last_day: number[]; total: number }>(
            tx,
            sql`select journey_id,
                       coalesce(array_agg(${epochMs(sql`entered_at`)}) filter (where entered_at > ${iso(now - DAY)}::timestamptz), '{}') as last_day,
                       count(*)::int as total
                from journey_instances where journey_id = any(${arr(capped)}::uuid[]) group by journey_id`,
          ),
    ]);
    for (const row of used) keys.add(`${pairKey(row.journey_id, row.user_id)}\u0000${row.entry_key}`);
    for (const row of active) {
      const ledger = ledgers.get(pairKey(row.journey_id, row.user_id));
      if (ledger) ledger.active = () => true;
    }
    for (const j of capped) counters.set(j, { times: [], total: 0 });
    for (const row of counts) counters.set(row.journey_id, { times: row.last_day.map((t) => toMs(t)!), total: row.total });
    return new EntryGate(ledgers, keys, counters);
  }

  decide(candidate: EntryCandidate, now: number): GateDecision {
    const pair = pairKey(candidate.journeyId, candidate.userId);
    if (this.keys.has(`${pair}\u0000${candidate.entryKey}`)) return { kind: "duplicate" };
    const ledger = this.ledgers.get(pair);
    // The ledger keeps the count and the latest entry, which is all `once` and `cooldown` read.
    const prior: PriorEntry[] = ledger && ledger.entries > 0 ? [{ enteredAt: ledger.lastEnteredAt ?? now, active: ledger.active() }] : [];
    const decision = entryDecision(candidate.program.settings, prior, now, this.countersFor(candidate.journeyId, now));
    return decision.enter ? { kind: "enter" } : { kind: "rejected", reason: decision.reason };
  }

  /** Makes later decisions in the same batch see this entry, and notes it for the ledger. */
  entered(candidate: EntryCandidate, inst: Inst, now: number): void {
    const pair = pairKey(candidate.journeyId, candidate.userId);
    this.keys.add(`${pair}\u0000${candidate.entryKey}`);
    const ledger = this.ledgers.get(pair);
    if (ledger) {
      const before = ledger.active;
      ledger.entries += 1;
      ledger.lastEnteredAt = now;
      ledger.active = () => before() || inst.state?.status === "active";
      const admitted = this.admitted.get(pair) ?? { journeyId: candidate.journeyId, userId: candidate.userId, count: 0, last: now };
      admitted.count += 1;
      admitted.last = now;
      this.admitted.set(pair, admitted);
    }
    const counter = this.counters.get(candidate.journeyId);
    if (counter) {
      counter.times.push(now);
      counter.total += 1;
    }
  }

  private countersFor(journeyId: string, now: number): EntryCounters {
    const counter = this.counters.get(journeyId);
    if (!counter) return { lastHour: 0, lastDay: 0, total: 0 };
    return {
      lastHour: counter.times.filter((t) => t > now - HOUR).length,
      lastDay: counter.times.filter((t) => t > now - DAY).length,
      total: counter.total,
    };
  }
}

function hasCaps(program: JourneyProgram): boolean {
  const caps = program.settings.entry.caps;
  return caps !== undefined && (caps.perHour !== undefined || caps.perDay !== undefined || caps.total !== undefined);
}
