import type { JourneyDocument } from "../../workflows/document";
import { canonicalJson } from "../../workflows/hash";

/**
 * "Reload & reapply" after a save conflict: my edits (base → mine) replayed on top of the
 * draft someone else saved (theirs), node by node and wire by wire. Where both of us changed
 * the same thing my version wins, because I am the one looking at the result; where I deleted
 * something they changed, theirs is kept, because deleting someone's fresh work unseen is the
 * worse surprise. The counts let the editor say what happened.
 */
export interface ReapplyResult {
  document: JourneyDocument;
  /** Items both sides changed, resolved to mine. */
  overridden: number;
  /** Items I deleted but they changed, kept as theirs. */
  keptTheirs: number;
}

const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);

function mergeById<T extends { id: string }>(base: readonly T[], mine: readonly T[], theirs: readonly T[], counts: { overridden: number; keptTheirs: number }): T[] {
  const b = new Map(base.map((x) => [x.id, x]));
  const m = new Map(mine.map((x) => [x.id, x]));
  const result = new Map(theirs.map((x) => [x.id, x]));
  for (const id of new Set([...b.keys(), ...m.keys()])) {
    const before = b.get(id);
    const mineItem = m.get(id);
    const theirItem = result.get(id);
    if (before !== undefined && mineItem !== undefined && same(before, mineItem)) continue;
    if (mineItem === undefined) {
      if (before === undefined) continue;
      if (theirItem !== undefined && !same(before, theirItem)) counts.keptTheirs += 1;
      else result.delete(id);
      continue;
    }
    if (theirItem !== undefined && !same(mineItem, theirItem) && (before === undefined || !same(before, theirItem))) counts.overridden += 1;
    result.set(id, mineItem);
  }
  return [...result.values()];
}

function pick<T>(base: T, mine: T, theirs: T, counts: { overridden: number }): T {
  if (same(base, mine)) return theirs;
  if (!same(base, theirs) && !same(mine, theirs)) counts.overridden += 1;
  return mine;
}

export function reapply(base: JourneyDocument, mine: JourneyDocument, theirs: JourneyDocument): ReapplyResult {
  const counts = { overridden: 0, keptTheirs: 0 };
  const nodes = mergeById(base.nodes, mine.nodes, theirs.nodes, counts);
  const present = new Set(nodes.map((n) => n.id));
  const mineEdges = new Set(mine.edges.map((e) => e.id));
  // One wire per output: when both sides wired the same port differently, my wire wins.
  const ports = new Map<string, (typeof base.edges)[number]>();
  for (const edge of mergeById(base.edges, mine.edges, theirs.edges, counts)) {
    if (!present.has(edge.source) || !present.has(edge.target)) continue;
    const key = `${edge.source}\u001f${edge.sourcePort}`;
    const existing = ports.get(key);
    if (existing && !mineEdges.has(edge.id)) continue;
    if (existing) counts.overridden += 1;
    ports.set(key, edge);
  }
  return {
    document: {
      ...theirs,
      name: pick(base.name, mine.name, theirs.name, counts),
      settings: pick(base.settings, mine.settings, theirs.settings, counts),
      nodes,
      edges: [...ports.values()],
    },
    ...counts,
  };
}
