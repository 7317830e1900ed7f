import { unitHash } from "../../workflows/hash";
import type { SplitConfig } from "./definition";

/**
 * Deterministic per (user, node): re-running a user, on either engine or in the simulator,
 * always picks the same branch, and different split nodes draw independently. Kept apart from
 * the definition so the interpreter (and Temporal's workflow bundle) does not pull in Liquid.
 */
export function chooseSplitBranch(config: SplitConfig, userId: string, nodeId: string): string {
  const draw = unitHash(userId, nodeId) * 100;
  let cumulative = 0;
  for (const branch of config.branches) {
    cumulative += branch.percent;
    if (draw < cumulative) return branch.id;
  }
  // Rounding in the percentages can leave a sliver above the last bound.
  return [...config.branches].reverse().find((b) => b.percent > 0)?.id ?? config.branches[config.branches.length - 1].id;
}
