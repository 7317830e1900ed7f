import { toNodeRun } from "../extension/run.server";
import { webhook } from "./definition";

/** The webhook's run, through the same adapter as every extension node (context, guard, outcomes). */
export const run = toNodeRun(webhook);
