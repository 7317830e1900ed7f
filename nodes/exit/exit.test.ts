import { describe, expect, it } from "vitest";
import { exitConfigSchema, exitNode } from "./definition";

describe("core.exit", () => {
  it("has no outputs and no settings", () => {
    expect(exitNode.outputs(exitConfigSchema.parse({}))).toEqual([]);
    expect(exitConfigSchema.safeParse({ extra: 1 }).success).toBe(false);
    expect(exitNode.summary({}, "zh")).toBe("退出旅程");
    expect(exitNode.label).toEqual({ en: "Exit", zh: "退出" });
  });
});
