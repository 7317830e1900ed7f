import { describe, expect, it } from "vitest";
import { chooseSplitBranch, splitConfigSchema, splitNode } from "./definition";

describe("core.split", () => {
  it("defaults to an even A/B split", () => {
    const config = splitConfigSchema.parse(splitNode.defaults);
    expect(splitNode.summary(config, "en")).toBe("A 50% · B 50%");
    expect(splitNode.outputs(config).map((o) => o.id)).toEqual(["a", "b"]);
    expect(splitNode.label.zh).toBe("随机分流");
  });

  it("needs at least two branches adding up to 100", () => {
    expect(splitConfigSchema.safeParse({ branches: [{ id: "a", label: "A", percent: 100 }] }).success).toBe(false);
    expect(splitConfigSchema.safeParse({ branches: [{ id: "a", label: "A", percent: 60 }, { id: "b", label: "B", percent: 30 }] }).success).toBe(false);
    expect(splitConfigSchema.safeParse({ branches: [{ id: "a", label: "A", percent: 33.33 }, { id: "b", label: "B", percent: 33.33 }, { id: "c", label: "C", percent: 33.34 }] }).success).toBe(true);
    expect(splitConfigSchema.safeParse({ branches: [{ id: "a", label: "A", percent: 50 }, { id: "a", label: "B", percent: 50 }] }).success).toBe(false);
  });

  it("is deterministic per (user, node) and independent across nodes", () => {
    const config = splitConfigSchema.parse({ branches: [{ id: "a", label: "A", percent: 50 }, { id: "b", label: "B", percent: 50 }] });
    const ids = Array.from({ length: 2000 }, (_, i) => `user-${i}`);
    const first = ids.map((id) => chooseSplitBranch(config, id, "split_1"));
    expect(ids.map((id) => chooseSplitBranch(config, id, "split_1"))).toEqual(first);
    const other = ids.map((id) => chooseSplitBranch(config, id, "split_2"));
    const agree = first.filter((b, i) => b === other[i]).length / ids.length;
    expect(agree).toBeGreaterThan(0.45);
    expect(agree).toBeLessThan(0.55);
  });

  it("never picks a 0% branch", () => {
    const config = splitConfigSchema.parse({ branches: [{ id: "a", label: "A", percent: 0 }, { id: "b", label: "B", percent: 100 }] });
    expect(new Set(Array.from({ length: 500 }, (_, i) => chooseSplitBranch(config, `u${i}`, "s")))).toEqual(new Set(["b"]));
  });
});
