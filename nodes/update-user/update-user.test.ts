import { describe, expect, it } from "vitest";
import { actionContext, fakeServices } from "../testing";
import { applyUserOperations, updateUserConfigSchema, updateUserNode } from "./definition";
import { run } from "./runtime.server";

const config = {
  operations: [
    { op: "set", trait: "winback_stage", value: "pushed" },
    { op: "increment", trait: "winback_attempts", by: 1 },
    { op: "add_tag", tag: "召回中" },
    { op: "remove_tag", tag: "沉默用户" },
  ],
};

describe("core.update-user", () => {
  it("summarises its operations", () => {
    const parsed = updateUserConfigSchema.parse(config);
    expect(updateUserNode.summary(parsed, "en")).toBe("set winback_stage = pushed; winback_attempts + 1; add tag 召回中; remove tag 沉默用户");
    expect(updateUserNode.summary(parsed, "zh")).toBe("设置 winback_stage = pushed；winback_attempts 增加 1；添加标签 召回中；移除标签 沉默用户");
    expect(updateUserConfigSchema.safeParse(updateUserNode.defaults).success).toBe(false);
  });

  it("applies operations purely", () => {
    const before = { winback_attempts: "2", tags: ["沉默用户", "美食爱好者"] };
    const after = applyUserOperations(before, updateUserConfigSchema.parse(config).operations);
    expect(after).toEqual({ winback_stage: "pushed", winback_attempts: 3, tags: ["美食爱好者", "召回中"] });
    expect(before).toEqual({ winback_attempts: "2", tags: ["沉默用户", "美食爱好者"] });
    expect(applyUserOperations({}, [{ op: "increment", trait: "n", by: 2 }, { op: "add_tag", tag: "a" }, { op: "add_tag", tag: "a" }])).toEqual({ n: 2, tags: ["a"] });
  });

  it("calls the profile service with the idempotency key and retries on errors", async () => {
    const services = fakeServices();
    expect(await run(actionContext(services), config)).toEqual({ output: "next" });
    expect(services.updates).toEqual([{ userId: "u1", operations: updateUserConfigSchema.parse(config).operations, idempotencyKey: "i1:node:1" }]);
    const failing = fakeServices({ update: () => Promise.reject(new Error("db down")) });
    expect(await run(actionContext(failing), config)).toEqual({ retry: { reason: "db down" } });
  });
});
