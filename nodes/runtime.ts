import type { MessageChannel } from "./define";

/**
 * Types shared by the interpreter, the drivers and node runtimes. Client-safe: no side effects
 * here, runtimes live in `nodes/<folder>/runtime.server.ts`.
 */

export interface UserSnapshot {
  id: string;
  traits: Record<string, unknown>;
  /** IANA zone; invalid or missing zones fall back to the journey/workspace zone. */
  timezone?: string | null;
}

export interface JourneyEvent {
  name: string;
  properties: Record<string, unknown>;
  /** Ingestion message id, when known (for tracing only). */
  id?: string;
}

export type MessageCategory = "marketing" | "transactional";
export type QuietHoursBehaviour = "defer" | "skip";

export interface SendMessageRequest {
  channel: MessageChannel;
  category: MessageCategory;
  /** Rendered fields (push: title/body/deepLink...; sms: body/templateParams...; email: subject/html/text). */
  content: Record<string, string>;
  nodeId: string;
  instanceId: string;
  journeyId: string;
  userId: string;
  idempotencyKey: string;
  quietHours?: QuietHoursBehaviour;
}

export interface SendMessageResponse {
  status: "sent" | "failed" | "deferred";
  messageId?: string;
  /** Failure taxonomy of the channels layer (invalid_token, unsubscribed, quiet_hours...). */
  reason?: string;
  /** For `deferred` (quiet hours): when the message may go out. */
  deferUntil?: number;
}

export type UserOperation =
  | { op: "set"; trait: string; value: string | number | boolean | null }
  | { op: "increment"; trait: string; by: number }
  | { op: "add_tag"; tag: string }
  | { op: "remove_tag"; tag: string };

export interface UpdateUserRequest {
  userId: string;
  operations: UserOperation[];
  idempotencyKey: string;
}

/** The subset of WHATWG fetch a runtime may rely on, so tests can inject a fake. */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
) => Promise<{ status: number; ok: boolean; text(): Promise<string> }>;

/**
 * Structured logging as the runtime needs it. Defined here (the runtime's side of the boundary)
 * and passed in by the app, so nodes/ and workflows/ never import the app's logger.
 */
export interface RuntimeLogger {
  error(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

/** A workspace's secrets for one node type (entered on Settings › Extensions, stored encrypted). */
export interface NodeSecrets {
  get(name: string): Promise<string | undefined>;
}

/** Injected by the driver; the channels engineer implements sendMessage/updateUser. */
export interface ActionServices {
  sendMessage(request: SendMessageRequest): Promise<SendMessageResponse>;
  updateUser(request: UpdateUserRequest): Promise<void>;
  fetch: FetchLike;
  /** For extension nodes' `ctx.log`; silent when absent. */
  log?: RuntimeLogger;
  /** For extension nodes' `ctx.secrets`, by node type; none when absent. */
  secrets?(nodeType: string): NodeSecrets;
}

export interface ActionContext {
  workspaceId: string;
  journeyId: string;
  versionId: string;
  instanceId: string;
  nodeId: string;
  user: UserSnapshot;
  /** The event that started the instance, if any (templates read `event.properties`). */
  event?: JourneyEvent;
  journey?: { id: string; name: string };
  /** Same for every attempt of one node visit: providers deduplicate on it. */
  idempotencyKey: string;
  /** 1 for the first try. */
  attempt: number;
  now: number;
  services: ActionServices;
}

export type ActionResult =
  /** Leave the node by this output. */
  | { output: string; detail?: Record<string, unknown> }
  /** Transient failure: the interpreter schedules another attempt with backoff. */
  | { retry: { reason: string } }
  /** Not now (quiet hours): sleep, then run the same node again. */
  | { deferUntil: number; reason: string };

export type NodeRun<C> = (ctx: ActionContext, config: C) => Promise<ActionResult>;
