/** What an operator filters instances by; derived from status, reason and the interpreter's block (docs/operations.md). */
export const instanceViews = ["running", "waiting", "completed", "exited", "failed"] as const;
export type InstanceView = (typeof instanceViews)[number];
