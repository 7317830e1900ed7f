import { describe, expect, it } from "vitest";
import { registeredNoOrderJourney } from "../../workflows/demo-journeys";
import { parseJourneyDocument, type JourneyDocument } from "../../workflows/document";
import { CLIPBOARD_MARKER, parsePayload } from "./clipboard";
import { checkConnection } from "./connections";
import { reapply } from "./merge";
import { createCanvasStore, type CanvasStore } from "./store";

function demoDocument(): JourneyDocument {
  const parsed = parseJourneyDocument(registeredNoOrderJourney());
  if (!parsed.ok) throw new Error("demo journey does not parse");
  return parsed.document;
}

/** A store with a controllable clock so coalescing windows are deterministic. */
function storeAt(): { store: CanvasStore; tick: (ms: number) => void } {
  let t = 1_000_000;
  return { store: createCanvasStore({ now: () => t }), tick: (ms) => (t += ms) };
}

const ids = (store: CanvasStore) => store.getState().nodes.map((n) => n.id).sort();
const configOf = (store: CanvasStore, id: string) => store.getState().nodes.find((n) => n.id === id)?.data.config;

describe("canvas store: undo and redo", () => {
  it("undoes and redoes adds, wires and config edits in order", () => {
    const { store, tick } = storeAt();
    const s = () => store.getState();
    const trigger = s().addNode("core.trigger", { x: 0, y: 0 })!;
    const wait = s().addNode("core.wait-for-event", { x: 0, y: 160 })!;
    expect(s().connect({ source: trigger, sourceHandle: "next", target: wait })).toBeNull();
    tick(5_000);
    s().updateNode(trigger, { config: { source: "event", event: "s", filters: [] } });
    tick(100);
    s().updateNode(trigger, { config: { source: "event", event: "signed_up", filters: [] } });
    expect(s().past).toHaveLength(4); // two adds, one wire, one (coalesced) edit

    s().undo();
    expect(configOf(store, trigger)).toEqual({ source: "event", event: "", filters: [] });
    s().undo();
    expect(s().edges).toHaveLength(0);
    s().undo();
    expect(ids(store)).toEqual([trigger]);
    s().redo();
    s().redo();
    expect(ids(store)).toEqual([trigger, wait].sort());
    expect(s().edges.map((e) => e.id)).toEqual([`${trigger}.next`]);
    s().redo();
    expect(configOf(store, trigger)).toMatchObject({ event: "signed_up" });
    expect(s().future).toHaveLength(0);
  });

  it("starts a new undo step after the coalescing window and drops redo on a new edit", () => {
    const { store, tick } = storeAt();
    const s = () => store.getState();
    const sms = s().addNode("core.sms", { x: 0, y: 0 })!;
    s().updateNode(sms, { config: { body: "a", templateParams: {} } });
    tick(2_000);
    s().updateNode(sms, { config: { body: "ab", templateParams: {} } });
    s().undo();
    expect(configOf(store, sms)).toMatchObject({ body: "a" });
    expect(s().future).toHaveLength(1);
    s().rename("new name");
    expect(s().future).toHaveLength(0);
  });

  it("records a whole drag as one step, not one per frame", () => {
    const { store } = storeAt();
    const s = () => store.getState();
    const id = s().addNode("core.exit", { x: 0, y: 0 })!;
    const before = s().past.length;
    for (let x = 10; x <= 100; x += 10) s().onNodesChange([{ type: "position", id, position: { x, y: 0 }, dragging: true }]);
    s().onNodesChange([{ type: "position", id, dragging: false }]);
    expect(s().past.length).toBe(before + 1);
    expect(s().nodes[0].position).toEqual({ x: 100, y: 0 });
    s().undo();
    expect(s().nodes[0].position).toEqual({ x: 0, y: 0 });
  });

  it("changes nothing in read-only mode (a published version)", () => {
    const { store } = storeAt();
    store.getState().load(demoDocument(), { readOnly: true });
    expect(store.getState().addNode("core.exit", { x: 0, y: 0 })).toBeNull();
    store.getState().selectAll();
    store.getState().deleteSelection();
    expect(store.getState().nodes).toHaveLength(4);
    expect(store.getState().past).toHaveLength(0);
  });
});

describe("canvas store: connection validation", () => {
  const doc = demoDocument();

  it("refuses invalid wires with a reason and raises a notice", () => {
    const { store } = storeAt();
    store.getState().load(doc);
    const { nodes, edges } = store.getState();
    const check = (source: string, sourceHandle: string, target: string) => checkConnection({ source, sourceHandle, target }, nodes, edges);
    expect(check("wait_order", "happened", "wait_order")).toBe("self_loop");
    expect(check("wait_order", "happened", "trigger")).toBe("into_trigger");
    expect(check("wait_order", "happened", "sms_hongbao")).toBe("port_taken");
    expect(check("wait_order", "happened", "exit")).toBe("duplicate");
    expect(check("exit", "next", "sms_hongbao")).toBe("from_exit");
    expect(check("wait_order", "maybe", "sms_hongbao")).toBe("no_such_port");
    expect(check("nope", "next", "exit")).toBe("missing_node");
    expect(checkConnection({ source: "trigger", sourceHandle: "next", target: "exit" }, nodes, edges, true)).toBe("read_only");

    expect(store.getState().connect({ source: "sms_hongbao", sourceHandle: "sent", target: "trigger" }, { x: 5, y: 6 })).toBe("into_trigger");
    expect(store.getState().notice).toMatchObject({ kind: "connection", problem: "into_trigger", at: { x: 5, y: 6 } });
    expect(store.getState().edges).toHaveLength(edges.length);
  });

  it("lets a freshly dropped, unconfigured node be wired before it is filled in", () => {
    const { store } = storeAt();
    const s = () => store.getState();
    const wait = s().addNode("core.wait-for-event", { x: 0, y: 0 })!;
    const sms = s().addNode("core.sms", { x: 0, y: 200 })!;
    expect(s().connect({ source: wait, sourceHandle: "timed_out", target: sms })).toBeNull();
    expect(s().connect({ source: wait, sourceHandle: "timed_out", target: sms })).toBe("duplicate");
  });

  it("drops wires from ports a config change removed, in the same undo step", () => {
    const { store } = storeAt();
    const s = () => store.getState();
    const condition = s().addNode("core.condition", { x: 0, y: 0 })!;
    const exit = s().addNode("core.exit", { x: 0, y: 200 })!;
    const branches = (ids: string[]) => ({ mode: "branches", branches: ids.map((id) => ({ id, label: id, match: "all", rules: [] })) });
    s().updateNode(condition, { config: branches(["vip", "new"]) });
    s().connect({ source: condition, sourceHandle: "new", target: exit });
    s().connect({ source: condition, sourceHandle: "else", target: exit });
    s().updateNode(condition, { config: branches(["vip"]) }, "other-field");
    expect(s().edges.map((e) => e.sourceHandle)).toEqual(["else"]);
    s().undo();
    expect(s().edges.map((e) => e.sourceHandle).sort()).toEqual(["else", "new"]);
  });

  it("validates like the compiler: problems are grouped by node", () => {
    const { store } = storeAt();
    const s = () => store.getState();
    s().load(doc);
    expect(s().problemList).toEqual([]);
    s().updateNode("sms_hongbao", { config: { body: "", templateParams: {} } });
    s().validate();
    expect(s().problems.sms_hongbao.map((e) => e.code)).toEqual(["unconfigured"]);
    expect(s().problems.sms_hongbao[0].message.en).toContain("body");
  });
});

describe("canvas store: copy, paste, delete", () => {
  it("pastes a copied group with new ids, its inner wires, and remapped node references", () => {
    const { store } = storeAt();
    const s = () => store.getState();
    const push = s().addNode("core.push", { x: 0, y: 0 })!;
    const condition = s().addNode("core.condition", { x: 0, y: 200 })!;
    const exit = s().addNode("core.exit", { x: 300, y: 400 })!;
    s().updateNode(condition, { config: { mode: "yes_no", match: "all", rules: [{ kind: "message", nodeId: push, state: "delivered", check: "is" }] } });
    s().connect({ source: push, sourceHandle: "sent", target: condition });
    s().connect({ source: condition, sourceHandle: "yes", target: exit });
    s().select([push, condition]);

    const payload = s().copySelection()!;
    expect(payload.nodes.map((n) => n.id).sort()).toEqual([condition, push].sort());
    expect(payload.edges).toHaveLength(1); // the wire to the unselected exit stays behind

    const pasted = s().paste(payload);
    expect(pasted).toHaveLength(2);
    expect(pasted.some((id) => [push, condition, exit].includes(id))).toBe(false);
    const [newPush, newCondition] = pasted;
    expect(s().edges.find((e) => e.source === newPush)).toMatchObject({ sourceHandle: "sent", target: newCondition });
    expect(configOf(store, newCondition)).toMatchObject({ rules: [{ nodeId: newPush }] });
    expect(s().nodes.find((n) => n.id === newPush)!.position).toEqual({ x: 40, y: 40 });
    // Selection moves to the pasted copy, so Ctrl+V then Delete removes what was pasted.
    expect(s().nodes.filter((n) => n.selected).map((n) => n.id).sort()).toEqual([...pasted].sort());
    s().undo();
    expect(s().nodes).toHaveLength(3);
  });

  it("pastes into another journey through clipboard text", () => {
    const source = storeAt().store;
    source.getState().load(demoDocument());
    source.getState().select(["wait_order", "sms_hongbao"]);
    const text = JSON.stringify(source.getState().copySelection());

    const target = storeAt().store;
    const payload = parsePayload(text)!;
    expect(payload.waypost).toBe(CLIPBOARD_MARKER);
    const pasted = target.getState().paste(payload, { x: 500, y: 500 });
    expect(target.getState().nodes.map((n) => n.data.nodeType).sort()).toEqual(["core.sms", "core.wait-for-event"]);
    expect(target.getState().edges).toHaveLength(1);
    const positions = target.getState().nodes.filter((n) => pasted.includes(n.id)).map((n) => n.position);
    expect(Math.min(...positions.map((p) => p.x))).toBe(500);
    expect(Math.min(...positions.map((p) => p.y))).toBe(500);
  });

  it("ignores clipboard text that is not a Waypost payload", () => {
    expect(parsePayload("hello")).toBeNull();
    expect(parsePayload(JSON.stringify({ waypost: CLIPBOARD_MARKER, version: 1, nodes: [], edges: [] }))).toBeNull();
    expect(parsePayload(JSON.stringify({ waypost: "other", version: 1, nodes: [{}], edges: [] }))).toBeNull();
  });

  it("deletes selected nodes with their wires and selected wires alone", () => {
    const { store } = storeAt();
    const s = () => store.getState();
    s().load(demoDocument());
    s().select(["sms_hongbao"]);
    s().deleteSelection();
    expect(ids(store)).toEqual(["exit", "trigger", "wait_order"]);
    expect(s().edges.map((e) => e.id).sort()).toEqual(["trigger.next", "wait_order.happened"]);
    s().onEdgesChange([{ type: "select", id: "trigger.next", selected: true }]);
    s().deleteSelection();
    expect(s().edges.map((e) => e.id)).toEqual(["wait_order.happened"]);
    s().undo();
    s().undo();
    expect(s().edges).toHaveLength(5);
  });

  it("auto-layout places every child below its parent", () => {
    const { store } = storeAt();
    const s = () => store.getState();
    s().load({ ...demoDocument(), nodes: demoDocument().nodes.map((n) => ({ ...n, position: { x: 0, y: 0 } })) });
    s().autoLayout();
    const y = (id: string) => s().nodes.find((n) => n.id === id)!.position.y;
    expect(y("trigger")).toBeLessThan(y("wait_order"));
    expect(y("wait_order")).toBeLessThan(y("sms_hongbao"));
    expect(y("sms_hongbao")).toBeLessThan(y("exit"));
    s().undo();
    expect(y("exit")).toBe(0);
  });
});

describe("reload & reapply after a save conflict", () => {
  const base = demoDocument();
  const smsConfig = (body: string) => ({ body, signName: "Waypost", templateParams: {}, category: "marketing" });

  it("replays my edits on top of theirs, keeping both sides' independent work", () => {
    const theirs: JourneyDocument = {
      ...base,
      nodes: base.nodes.map((n) => (n.id === "wait_order" ? { ...n, config: { event: "order_completed", filters: [], timeout: { amount: 48, unit: "hours" } } } : n)),
    };
    const mine: JourneyDocument = {
      ...base,
      settings: { ...base.settings, holdoutPercent: 10 },
      nodes: base.nodes.map((n) => (n.id === "sms_hongbao" ? { ...n, config: smsConfig("mine") } : n)),
    };
    const merged = reapply(base, mine, theirs);
    expect(merged.overridden).toBe(0);
    expect(merged.document.nodes.find((n) => n.id === "wait_order")!.config).toMatchObject({ timeout: { amount: 48 } });
    expect(merged.document.nodes.find((n) => n.id === "sms_hongbao")!.config).toMatchObject({ body: "mine" });
    expect(merged.document.settings.holdoutPercent).toBe(10);
  });

  it("prefers mine where both changed a node, and keeps theirs where I deleted what they changed", () => {
    const theirs: JourneyDocument = {
      ...base,
      nodes: base.nodes.map((n) => (n.id === "sms_hongbao" ? { ...n, config: smsConfig("theirs") } : n.id === "exit" ? { ...n, label: "end" } : n)),
    };
    const mine: JourneyDocument = {
      ...base,
      nodes: base.nodes.filter((n) => n.id !== "exit").map((n) => (n.id === "sms_hongbao" ? { ...n, config: smsConfig("mine") } : n)),
      edges: base.edges.filter((e) => e.target !== "exit"),
    };
    const merged = reapply(base, mine, theirs);
    expect(merged.overridden).toBe(1);
    expect(merged.keptTheirs).toBe(1);
    expect(merged.document.nodes.find((n) => n.id === "sms_hongbao")!.config).toMatchObject({ body: "mine" });
    expect(merged.document.nodes.find((n) => n.id === "exit")!.label).toBe("end");
  });
});
