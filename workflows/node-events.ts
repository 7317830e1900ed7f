import type { NodeRecord } from "./interpreter";

/**
 * A node record spread over the `journey_node_events` columns; the rest of it goes to `data`.
 * Both engines store records through this, so analytics read one layout.
 */
export function nodeEventColumns(record: NodeRecord): {
  nodeId: string | null;
  output: string | null;
  reason: string | null;
  status: string | null;
  channel: string | null;
  data: Record<string, unknown> | null;
} {
  // One object filled in per kind (no spreads: this runs for every node event).
  const c = { nodeId: record.nodeId as string | null, output: null as string | null, reason: null as string | null, status: null as string | null, channel: null as string | null, data: null as Record<string, unknown> | null };
  switch (record.kind) {
    case "entered":
    case "holdout":
      break;
    case "left":
      c.output = record.output;
      c.reason = record.reason ?? null;
      break;
    case "message":
      c.status = record.status;
      c.channel = record.channel;
      c.reason = record.reason ?? null;
      c.data = { attempt: record.attempt, ...(record.messageId ? { messageId: record.messageId } : {}), ...(record.deferUntil !== undefined ? { deferUntil: record.deferUntil } : {}) };
      break;
    case "retry":
      c.reason = record.reason;
      c.data = { attempt: record.attempt, retryAt: record.retryAt };
      break;
    case "conversion":
      c.data = { event: record.event, attributedNodeId: record.attributedNodeId, path: record.path, holdout: record.holdout };
      break;
    case "exit":
      c.reason = record.reason;
      break;
    case "tz_fallback":
      c.reason = record.reason;
      c.data = { given: record.given, zone: record.zone };
      break;
    case "moved":
      c.data = { fromVersionId: record.fromVersionId, toVersionId: record.toVersionId, fromNodeId: record.fromNodeId };
      break;
  }
  return c;
}
