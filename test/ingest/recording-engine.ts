import type { EntryResult, IncomingEvent, JourneyEngine, SegmentChange } from "../../workflows/engine";

/**
 * A JourneyEngine that records what ingestion and segments hand it. The data area's tests use
 * it to check the contract (what reaches the engine, when); the real engines are tested with
 * the engine (test/engine).
 */
export class RecordingEngine implements JourneyEngine {
  readonly kind = "embedded" as const;
  events: IncomingEvent[] = [];
  changes: (SegmentChange & { receivedAt: number })[] = [];
  failEvents = false;
  failChanges = false;
  private waiters: { match: (c: SegmentChange) => boolean; resolve: (at: number) => void }[] = [];

  async handleEvents(events: IncomingEvent[]): Promise<void> {
    if (this.failEvents) throw new Error("engine down");
    this.events.push(...events);
  }

  async handleSegmentChanges(changes: SegmentChange[]): Promise<void> {
    if (this.failChanges) throw new Error("engine down");
    const now = performance.now();
    for (const change of changes) {
      this.changes.push({ ...change, receivedAt: now });
      for (const w of this.waiters.filter((w) => w.match(change))) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(now);
      }
    }
  }

  /** Resolves with performance.now() when a matching change arrives. */
  nextChange(match: (c: SegmentChange) => boolean): Promise<number> {
    const seen = this.changes.find(match);
    if (seen) return Promise.resolve(seen.receivedAt);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  async triggerJourney(): Promise<EntryResult> {
    return { entered: false, reason: "recording engine" };
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}
