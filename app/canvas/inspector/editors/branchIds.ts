/**
 * Branch ids are port ids: permanent wire anchors that analytics count by. Operators name
 * branches by label only; a new branch gets the next free letter (a, b, c…) and keeps it when
 * renamed, so renaming never cuts a wire.
 */
export function withBranchIds(config: unknown): unknown {
  if (config === null || typeof config !== "object" || !Array.isArray((config as { branches?: unknown }).branches)) return config;
  const branches = (config as { branches: Array<Record<string, unknown>> }).branches;
  if (branches.every((b) => typeof b?.id === "string" && b.id !== "")) return config;
  const used = new Set(branches.map((b) => b?.id).filter((id): id is string => typeof id === "string" && id !== ""));
  let n = 0;
  const next = () => {
    for (;;) {
      const id = n < 26 ? String.fromCharCode(97 + n) : `b${n + 1}`;
      n += 1;
      if (!used.has(id)) {
        used.add(id);
        return id;
      }
    }
  };
  return { ...config, branches: branches.map((b) => (typeof b?.id === "string" && b.id !== "" ? b : { ...b, id: next() })) };
}
