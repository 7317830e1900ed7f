import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineNode, outputsOf } from "./define";
import { getNodeDefinition, listNodeDefinitions, registerNode } from "./registry";
import { executeNode, getNodeRuntime } from "./registry.server";
import { actionContext, fakeServices } from "./testing";

const minimal = {
  version: 1,
  category: "custom" as const,
  label: { en: "Slack", zh: "Slack" },
  description: { en: "Post to Slack", zh: "发到 Slack" },
  icon: "#",
  config: z.object({ channel: z.string().min(1) }),
  defaults: { channel: "" },
  outputs: () => [{ id: "done", label: { en: "Done", zh: "完成" } }],
  summary: (c: { channel: string }) => `Slack ${c.channel}`,
};

describe("node registry", () => {
  it("lists every built-in node in palette order with glossary labels", () => {
    expect(listNodeDefinitions().map((d) => `${d.type}:${d.label.zh}`)).toEqual([
      "core.trigger:触发器",
      "core.wait:等待",
      "core.wait-for-event:等待事件",
      "core.condition:条件分支",
      "core.split:随机分流",
      "core.exit:退出",
      "core.push:推送",
      "core.sms:短信",
      "core.email:邮件",
      "core.update-user:更新用户",
      "example.webhook:Webhook 回调",
    ]);
  });

  it("registers custom action nodes once and refuses clashes and control nodes", () => {
    const slack = defineNode({ ...minimal, type: "acme.slack", kind: "action" });
    registerNode(slack);
    registerNode(slack);
    expect(getNodeDefinition("acme.slack")).toBe(slack);
    expect(() => registerNode(defineNode({ ...minimal, type: "acme.slack", kind: "action" }))).toThrow(/already registered/);
    expect(() => registerNode(defineNode({ ...minimal, type: "acme.loop", kind: "control" }))).toThrow(/must be action nodes/);
    expect(outputsOf(slack, { channel: "" })).toEqual([]);
    expect(outputsOf(slack, { channel: "#ops" }).map((o) => o.id)).toEqual(["done"]);
  });

  it("validates type ids and versions", () => {
    expect(() => defineNode({ ...minimal, type: "Slack", kind: "action" })).toThrow(/namespace.name/);
    expect(() => defineNode({ ...minimal, type: "acme.slack", kind: "action", version: 0 })).toThrow(/version/);
    expect(() => defineNode({ ...minimal, type: "acme.x", kind: "control", channel: "push" })).toThrow(/channel/);
  });
});

describe("executeNode", () => {
  it("runs the registered runtime", async () => {
    expect(getNodeRuntime("core.push")).toBeTypeOf("function");
    const services = fakeServices();
    expect(await executeNode("core.push", actionContext(services), { body: "hi" })).toEqual({ output: "sent", detail: { messageId: "m-1" } });
  });

  it("fails fast on unknown types and configs that do not parse; retries thrown errors", async () => {
    expect(await executeNode("acme.nothing", actionContext(fakeServices()), {})).toEqual({ output: "failed", detail: { reason: "unknown_node_type", type: "acme.nothing" } });
    expect(await executeNode("core.push", actionContext(fakeServices()), { body: 3 })).toMatchObject({ output: "failed", detail: { reason: "config_invalid" } });
    const throwing = fakeServices();
    throwing.updateUser = () => {
      throw new Error("boom");
    };
    expect(await executeNode("core.update-user", actionContext(throwing), { operations: [{ op: "add_tag", tag: "x" }] })).toEqual({ retry: { reason: "boom" } });
  });
});
