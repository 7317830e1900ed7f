import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineNode } from "../nodes/define";
import { getNodeDefinition } from "../nodes/registry";
import { buildJourney, type EdgeSpec, type NodeSpec } from "./builder";
import { demoJourneys } from "./demo-journeys";
import { migrateDocument, parseJourneyDocument, type JourneyDocument, type JourneyDocumentInput } from "./document";
import { compileJourney, programHash, type CompileError } from "./program";
import { mustCompile } from "./testing";

const trigger: NodeSpec = { id: "trigger", type: "core.trigger", config: { source: "event", event: "signed_up", filters: [] } };
const exit: NodeSpec = { id: "exit", type: "core.exit", config: {} };
const wait = (id: string, days = 1): NodeSpec => ({ id, type: "core.wait", config: { mode: "duration", duration: { amount: days, unit: "days" } } });

function doc(nodes: NodeSpec[], edges: EdgeSpec[]): JourneyDocumentInput {
  return buildJourney({ name: "test", settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] }, nodes, edges });
}

function errorsOf(input: unknown): Array<Pick<CompileError, "code" | "nodeId" | "edgeId" | "path">> {
  const result = compileJourney(input);
  if (result.ok) return [];
  return result.errors.map(({ code, nodeId, edgeId, path }) => ({ code, ...(nodeId ? { nodeId } : {}), ...(edgeId ? { edgeId } : {}), ...(path !== undefined ? { path } : {}) }));
}

describe("compileJourney: valid journeys", () => {
  it("compiles every demo journey", () => {
    for (const d of demoJourneys()) expect(compileJourney(d).ok, d.name).toBe(true);
  });

  it("produces a compact program with parsed configs and resolved outputs", () => {
    const program = mustCompile(doc([trigger, wait("w"), exit], [["trigger", "next", "w"], ["w", "next", "exit"]]), { journeyId: "j-1" });
    expect(program).toEqual({
      format: 1,
      id: "j-1",
      hash: program.hash,
      name: "test",
      settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] },
      triggerId: "trigger",
      nodes: {
        trigger: { id: "trigger", type: "core.trigger", typeVersion: 1, role: "trigger", config: { source: "event", event: "signed_up", filters: [] }, outputs: ["next"], next: { next: "w" } },
        w: { id: "w", type: "core.wait", typeVersion: 1, role: "wait", config: { mode: "duration", duration: { amount: 1, unit: "days" } }, outputs: ["next"], next: { next: "exit" } },
        exit: { id: "exit", type: "core.exit", typeVersion: 1, role: "exit", config: {}, outputs: [], next: {} },
      },
    });
    expect(program.hash).toMatch(/^[0-9a-f]{16}$/);
    // Serialisable: survives a JSON round trip and still hashes the same.
    const copy = JSON.parse(JSON.stringify(program));
    expect(copy).toEqual(program);
    expect(programHash(copy)).toBe(program.hash);
  });

  it("marks message nodes with their channel and delivery timeout", () => {
    const program = mustCompile(
      doc(
        [trigger, { id: "push", type: "core.push", config: { body: "hi", deliveryTimeoutMs: 60_000 } }, exit],
        [["trigger", "next", "push"], ["push", "sent", "exit"], ["push", "failed", "exit"]],
      ),
    );
    expect(program.nodes.push).toMatchObject({ role: "action", channel: "push", deliveryTimeoutMs: 60_000, outputs: ["sent", "failed"] });
    expect(program.nodes.push.config).toEqual({ title: "", body: "hi", category: "marketing", deliveryTimeoutMs: 60_000 });
  });

  it("has a stable hash: layout and labels do not change it, behaviour does", () => {
    const base = doc([trigger, wait("w"), exit], [["trigger", "next", "w"], ["w", "next", "exit"]]);
    const moved = { ...base, nodes: base.nodes.map((n) => ({ ...n, position: { x: n.position.x + 10, y: 5 }, label: "renamed" })) };
    const longer = doc([trigger, wait("w", 2), exit], [["trigger", "next", "w"], ["w", "next", "exit"]]);
    expect(mustCompile(moved).hash).toBe(mustCompile(base).hash);
    expect(mustCompile(base, { journeyId: "a" }).hash).toBe(mustCompile(base, { journeyId: "b" }).hash);
    expect(mustCompile(longer).hash).not.toBe(mustCompile(base).hash);
    expect(mustCompile(base).id).toBe(`doc:${mustCompile(base).hash}`);
  });
});

describe("compileJourney: errors name the node and the problem", () => {
  it("unconfigured nodes (fresh defaults) vs invalid values", () => {
    const fresh = getNodeDefinition("core.push")!.defaults;
    expect(errorsOf(doc([trigger, { id: "push", type: "core.push", config: fresh }, exit], [["trigger", "next", "push"], ["push", "sent", "exit"], ["push", "failed", "exit"]]))).toEqual([
      { code: "unconfigured", nodeId: "push", path: "body" },
    ]);
    expect(errorsOf(doc([trigger, { id: "w", type: "core.wait", config: { mode: "time_of_day", times: ["25:00"] } }, exit], [["trigger", "next", "w"], ["w", "next", "exit"]]))).toEqual([
      { code: "config_invalid", nodeId: "w", path: "times.0" },
    ]);
  });

  it("broken Liquid is a config error, not a failed send later", () => {
    expect(errorsOf(doc([trigger, { id: "sms", type: "core.sms", config: { body: "Hi {{ user.name " } }, exit], [["trigger", "next", "sms"], ["sms", "sent", "exit"], ["sms", "failed", "exit"]]))).toEqual([
      { code: "config_invalid", nodeId: "sms", path: "body" },
    ]);
  });

  it("dangling ports, unreachable nodes and bad edges", () => {
    expect(
      errorsOf(
        doc(
          [trigger, wait("w"), wait("island"), exit],
          [
            ["trigger", "next", "w"],
            ["w", "nope", "exit"],
            ["island", "next", "trigger"],
            ["w", "next", "ghost"],
          ],
        ),
      ),
    ).toEqual([
      { code: "bad_edge", edgeId: "w.nope", nodeId: "w" },
      { code: "bad_edge", edgeId: "island.next", nodeId: "island" },
      { code: "bad_edge", edgeId: "w.next", nodeId: "w" },
      { code: "dangling_port", nodeId: "w", path: "next" },
      { code: "dangling_port", nodeId: "island", path: "next" },
      { code: "unreachable", nodeId: "island" },
    ]);
  });

  it("an output connected twice is a bad edge", () => {
    const d = doc([trigger, wait("a"), wait("b"), exit], [["trigger", "next", "a"], ["a", "next", "b"], ["b", "next", "exit"]]);
    d.edges.push({ id: "dup", source: "a", sourcePort: "next", target: "exit" });
    expect(errorsOf(d)).toEqual([{ code: "bad_edge", edgeId: "dup", nodeId: "a" }]);
  });

  it("no trigger, multiple triggers", () => {
    expect(errorsOf(doc([wait("w"), exit], [["w", "next", "exit"]]))).toEqual([{ code: "no_trigger" }]);
    const second = { ...trigger, id: "trigger2" };
    expect(errorsOf(doc([trigger, second, exit], [["trigger", "next", "exit"], ["trigger2", "next", "exit"]]))).toEqual([{ code: "multiple_triggers", nodeId: "trigger2" }]);
  });

  it("unknown node types", () => {
    expect(errorsOf(doc([trigger, { id: "x", type: "acme.unknown", config: {} }, exit], [["trigger", "next", "x"], ["x", "done", "exit"]]))).toEqual([{ code: "unknown_node_type", nodeId: "x" }]);
  });

  it("loops without an always-blocking wait", () => {
    const cond: NodeSpec = { id: "cond", type: "core.condition", config: { mode: "yes_no", rules: [{ kind: "trait", trait: "vip", op: "eq", value: true }] } };
    const push: NodeSpec = { id: "push", type: "core.push", config: { body: "hi" } };
    const dateWait: NodeSpec = { id: "dw", type: "core.wait", config: { mode: "date_trait", trait: "renew_at" } };
    const looping = doc(
      [trigger, cond, push, dateWait, exit],
      [
        ["trigger", "next", "cond"],
        ["cond", "yes", "push"],
        ["cond", "no", "exit"],
        ["push", "sent", "dw"],
        ["push", "failed", "exit"],
        ["dw", "next", "cond"],
      ],
    );
    expect(errorsOf(looping)).toEqual([
      { code: "loop_without_wait", nodeId: "cond" },
      { code: "loop_without_wait", nodeId: "push" },
      { code: "loop_without_wait", nodeId: "dw" },
    ]);
    const fixed = { ...looping, nodes: looping.nodes.map((n) => (n.id === "dw" ? { ...n, config: { mode: "duration", duration: { amount: 1, unit: "days" } } } : n)) };
    expect(errorsOf(fixed)).toEqual([]);
  });

  it("a self-loop on a non-waiting node is a loop too", () => {
    const split: NodeSpec = { id: "s", type: "core.split", config: { branches: [{ id: "a", label: "A", percent: 50 }, { id: "b", label: "B", percent: 50 }] } };
    expect(errorsOf(doc([trigger, split, exit], [["trigger", "next", "s"], ["s", "a", "s"], ["s", "b", "exit"]]))).toEqual([{ code: "loop_without_wait", nodeId: "s" }]);
  });

  it("message-state rules must point at a message node of this journey", () => {
    const cond: NodeSpec = { id: "cond", type: "core.condition", config: { mode: "yes_no", rules: [{ kind: "message", nodeId: "exit", state: "opened", check: "is" }] } };
    expect(errorsOf(doc([trigger, cond, exit], [["trigger", "next", "cond"], ["cond", "yes", "exit"], ["cond", "no", "exit"]]))).toEqual([
      { code: "config_invalid", nodeId: "cond", path: "rules.0.nodeId" },
    ]);
  });

  it("invalid documents and settings", () => {
    expect(errorsOf({ schemaVersion: 1, name: "", settings: {}, nodes: [{ id: "a" }], edges: [] }).map((e) => e.path)).toEqual(["name", "nodes.0.type", "nodes.0.typeVersion", "nodes.0.position"]);
    const badZone = { ...doc([trigger, exit], [["trigger", "next", "exit"]]), settings: { timezone: "Nowhere/Land" } };
    expect(errorsOf(badZone)).toEqual([{ code: "config_invalid", path: "settings.timezone" }]);
  });
});

describe("document parsing and migration", () => {
  it("gives field paths for bad JSON values", () => {
    const r = parseJourneyDocument('{"schemaVersion":2,"name":"x","settings":{"entry":{"rule":"cooldown"}},"nodes":[],"edges":[]}');
    expect(r).toEqual({
      ok: false,
      errors: [
        { path: "schemaVersion", message: "Invalid literal value, expected 1" },
        { path: "settings.entry.cooldownMs", message: "required for the cooldown rule" },
      ],
    });
    expect(parseJourneyDocument("{nope")).toMatchObject({ ok: false, errors: [{ path: "" }] });
  });

  it("rejects duplicate node ids", () => {
    const d = doc([trigger, exit], [["trigger", "next", "exit"]]);
    d.nodes.push({ ...d.nodes[1] });
    expect(parseJourneyDocument(d)).toMatchObject({ ok: false, errors: [{ path: "nodes.2.id" }] });
  });

  it("migrates old node configs with the definition's migrate (webhook v1 → v2)", () => {
    const v1 = doc(
      [trigger, { id: "hook", type: "example.webhook", typeVersion: 1, config: { url: "https://example.com", method: "POST", headers: [{ name: "X-Token", value: "abc" }] } }, exit],
      [["trigger", "next", "hook"], ["hook", "success", "exit"], ["hook", "failed", "exit"]],
    );
    const parsed = parseJourneyDocument(v1);
    if (!parsed.ok) throw new Error("parse");
    const migrated = migrateDocument(parsed.document);
    expect(migrated.nodes[1]).toMatchObject({ typeVersion: 2, config: { url: "https://example.com", method: "POST", headers: { "X-Token": "abc" } } });
    expect(migrateDocument(migrated)).toBe(migrated);
    expect(mustCompile(v1).nodes.hook.config).toEqual({ url: "https://example.com", method: "POST", headers: { "X-Token": "abc" }, timeoutMs: 10_000 });
  });

  it("refuses a node written by newer code", () => {
    const newer = doc([trigger, { id: "w", type: "core.wait", typeVersion: 9, config: {} }, exit], [["trigger", "next", "w"], ["w", "next", "exit"]]);
    expect(errorsOf(newer)).toEqual([{ code: "config_invalid", nodeId: "w" }]);
  });

  it("custom nodes compile through an injected lookup; custom control nodes do not", () => {
    const base = { version: 1, category: "custom" as const, label: { en: "X", zh: "X" }, description: { en: "X", zh: "X" }, icon: "X", config: z.object({}), defaults: {}, summary: () => "x" };
    const action = defineNode({ ...base, type: "acme.ping", kind: "action", outputs: () => [{ id: "done", label: { en: "Done", zh: "完成" } }] });
    const control = defineNode({ ...base, type: "acme.fork", kind: "control", outputs: () => [{ id: "next", label: { en: "Next", zh: "下一步" } }] });
    const lookup = (type: string) => ({ "acme.ping": action, "acme.fork": control })[type] ?? getNodeDefinition(type);
    const withAction = doc([trigger, { id: "p", type: "acme.ping", config: {} }, exit], [["trigger", "next", "p"], ["p", "done", "exit"]]);
    expect(compileJourney(withAction, { lookup }).ok).toBe(true);
    const withControl = doc([trigger, { id: "f", type: "acme.fork", config: {} }, exit], [["trigger", "next", "f"], ["f", "next", "exit"]]);
    const result = compileJourney(withControl, { lookup });
    expect(result.ok ? [] : result.errors.map((e) => [e.code, e.nodeId])).toEqual([["unknown_node_type", "f"]]);
  });

  it("keeps documents JSON-only", () => {
    const d = demoJourneys()[0];
    const parsed = parseJourneyDocument(JSON.stringify(d));
    expect(parsed.ok && (parsed.document as JourneyDocument).nodes.length).toBe(d.nodes.length);
  });
});
