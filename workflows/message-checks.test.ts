import { describe, expect, it } from "vitest";
import { buildJourney } from "./builder";
import { compileJourney, type CompileError } from "./program";

// Publish checks of message copy: what the inspector shows (over the channel's limit, templates
// that cannot render) is a compile problem naming its node, so "No problems" cannot sit beside
// a node whose every send would fail.

const journeyWith = (node: { id: string; type: string; config: unknown }) =>
  buildJourney({
    name: "checks",
    settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [{ id: "trigger", type: "core.trigger", config: { source: "api" } }, node, { id: "exit", type: "core.exit", config: {} }],
    edges: [
      ["trigger", "next", node.id],
      [node.id, "sent", "exit"],
      [node.id, "failed", "exit"],
    ],
  });

const problemsOf = (node: { id: string; type: string; config: unknown }): { ok: boolean; problems: CompileError[] } => {
  const result = compileJourney(journeyWith(node));
  return result.ok ? { ok: true, problems: result.warnings } : { ok: false, problems: result.errors };
};

describe("message publish checks", () => {
  it("an SMS body over the limit is an error that states the limit in both languages", () => {
    const { ok, problems } = problemsOf({ id: "win_back_sms", type: "core.sms", config: { body: "优".repeat(15_003) } });
    expect(ok).toBe(false);
    expect(problems).toEqual([
      expect.objectContaining({ code: "too_long", nodeId: "win_back_sms", path: "body", message: expect.objectContaining({ en: expect.stringContaining("15,003 characters") }) }),
    ]);
    expect(problems[0]!.severity).toBeUndefined();
    expect(problems[0]!.message.en).toContain("at most 500");
    expect(problems[0]!.message.zh).toContain("最多 500");
  });

  it("an SMS within the limit has no problem; traits are not counted (they are unknown until send)", () => {
    expect(problemsOf({ id: "sms", type: "core.sms", config: { body: "{{ user.name }}，您的优惠券快过期了，回TD退订" } })).toEqual({ ok: true, problems: [] });
  });

  it("a push title over the limit is a warning (it will be cut) and publish goes ahead", () => {
    const { ok, problems } = problemsOf({ id: "push", type: "core.push", config: { title: "标".repeat(60), body: "hi" } });
    expect(ok).toBe(true);
    expect(problems).toEqual([expect.objectContaining({ code: "too_long", severity: "warning", nodeId: "push", path: "title" })]);
    expect(problems[0]!.message.en).toContain("cut");
  });

  it("a template that fails when rendered is an error naming the field", () => {
    const { ok, problems } = problemsOf({ id: "sms", type: "core.sms", config: { body: "{% for i in (1..1000000) %}{{ i }}{% endfor %}" } });
    expect(ok).toBe(false);
    expect(problems).toEqual([expect.objectContaining({ code: "template_error", nodeId: "sms", path: "body" })]);
  });

  it("a template longer than the parser accepts says the limit, not LiquidJS's raw message", () => {
    const { ok, problems } = problemsOf({ id: "sms", type: "core.sms", config: { body: "x".repeat(100_000) } });
    expect(ok).toBe(false);
    expect(problems).toEqual([expect.objectContaining({ code: "config_invalid", nodeId: "sms", path: "body" })]);
    expect(problems[0]!.message.en).toBe("body: is 100,000 characters; a template can be at most 20,000");
    expect(problems[0]!.message.zh).toBe("body：有 100,000 个字符；模板最多 20,000 个字符");
  });
});
