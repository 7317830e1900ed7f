/**
 * The interface both journey engines implement (embedded: workflows/embedded, Temporal:
 * workflows/temporal). Ingestion, segments, the API and the UI talk only to this.
 */
export interface IncomingEvent {
  workspaceId: string;
  userId: string;
  /** Ingestion's messageId: the engine uses it to deliver an event at most once per instance. */
  messageId: string;
  name: string;
  properties: Record<string, unknown>;
  /** When it happened (epoch ms). */
  timestamp: number;
}

export interface SegmentChange {
  workspaceId: string;
  userId: string;
  segmentId: string;
  change: "entered" | "exited";
  at: number;
}

export interface EntryResult {
  entered: boolean;
  instanceId?: string;
  /** Why a user did not enter: entry rule, cap, paused journey... */
  reason?: string;
}

export interface JourneyEngine {
  readonly kind: "embedded" | "temporal";
  /**
   * Stored user events, in timestamp order per user: starts journeys with matching event
   * triggers and wakes waiting instances (wait-for-event, goals, exit criteria). Called after the
   * events are committed; must be idempotent per (instance, messageId).
   */
  handleEvents(events: IncomingEvent[]): Promise<void>;
  /** Segment entries/exits: starts journeys with segment-entry/exit triggers. */
  handleSegmentChanges(changes: SegmentChange[]): Promise<void>;
  /** API-triggered entry of one user into one journey. */
  triggerJourney(input: { workspaceId: string; journeyId: string; userId: string; properties?: Record<string, unknown>; idempotencyKey?: string }): Promise<EntryResult>;
  /** Begin processing due work (timers, outbox); resolves once running. */
  start(): Promise<void>;
  /** Stop claiming work and wait for in-flight work to finish. */
  stop(): Promise<void>;
}
