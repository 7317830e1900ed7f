import type { JourneyStatus } from "../../db/schema";

/**
 * Journey status changes are valid only from states where they mean something (decision 0742).
 * The store enforces this in the transaction that changes the status, so tRPC and REST answer
 * the same 409; the UI offers a button only where `transitionAllowed` says so. Browser-safe.
 */

export const journeyTransitions = ["publish", "pause", "resume", "archive", "unarchive"] as const;
export type JourneyTransition = (typeof journeyTransitions)[number];

const validFrom: Record<JourneyTransition, readonly JourneyStatus[]> = {
  publish: ["draft", "live", "paused"],
  // Pausing a paused journey re-states what happens to the users inside (keep running or hold).
  pause: ["live", "paused"],
  resume: ["paused"],
  archive: ["draft", "live", "paused"],
  unarchive: ["archived"],
};

export function transitionAllowed(transition: JourneyTransition, status: JourneyStatus): boolean {
  return validFrom[transition].includes(status);
}

const described: Record<JourneyStatus, string> = {
  draft: "a draft that was never published",
  live: "live",
  paused: "paused",
  archived: "archived",
};

const whatToDo: Record<JourneyTransition, Partial<Record<JourneyStatus, string>>> = {
  publish: { archived: "Restore it first (it comes back paused or as a draft), then publish." },
  pause: {
    draft: "Nobody can be inside yet: publish it first.",
    archived: "Archived journeys admit nobody; restore it if you need it again (it comes back paused).",
  },
  resume: {
    draft: "Publish it to make it live.",
    live: "It is already admitting users; nothing to resume.",
    archived: "Restore it first (it comes back paused), then resume it.",
  },
  archive: { archived: "It is already archived." },
  unarchive: {
    draft: "Only archived journeys can be restored.",
    live: "Only archived journeys can be restored; pause it to stop new entries.",
    paused: "Only archived journeys can be restored; resume it to admit users again.",
  },
};

/** A status change refused because of the journey's current state (409 on every surface). */
export class JourneyStateError extends Error {
  constructor(
    readonly transition: JourneyTransition,
    readonly current: JourneyStatus,
  ) {
    super(`Cannot ${transition} this journey: it is ${described[current]}. ${whatToDo[transition][current] ?? ""}`.trim());
    this.name = "JourneyStateError";
  }
}

export function assertTransition(transition: JourneyTransition, status: JourneyStatus): void {
  if (!transitionAllowed(transition, status)) throw new JourneyStateError(transition, status);
}
