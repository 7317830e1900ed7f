/** What an operator filters instances by; derived from status, reason and the interpreter's block (docs/operations.md). */
export const instanceViews = ["running", "waiting", "completed", "exited", "failed"] as const;
export type InstanceView = (typeof instanceViews)[number];

/**
 * What pausing a journey does to the users already inside: `keep_running` (only nobody new
 * enters) or `hold` (they stop where they are until resumed; docs/decisions/0515).
 */
export const pauseChoices = ["keep_running", "hold"] as const;
export type PauseChoice = (typeof pauseChoices)[number];
