import { applyEdgeChanges, applyNodeChanges, type EdgeChange, type NodeChange, type XYPosition } from "@xyflow/react";
import { createStore, type StoreApi } from "zustand/vanilla";
import { getNodeDefinition } from "../../nodes/registry";
import { compileJourney, type CompileError } from "../../workflows/program";
import type { JourneyDocument, JourneySettings } from "../../workflows/document";
import { copyPayload, instantiatePayload, newNodeId, type ClipboardPayload } from "./clipboard";
import { checkConnection, type ConnectionProblem, type ConnectionRequest } from "./connections";
import { layoutNodes } from "./layout";
import { edgeId, fromDocument, INPUT_HANDLE, JOURNEY_NODE, portsOfNode, toDocument, type CanvasEdge, type CanvasNode } from "./model";

/** What undo/redo restores: the saved document, nothing about the view. */
interface Snapshot {
  name: string;
  settings: JourneySettings;
  nodes: CanvasNode[];
  edges: CanvasEdge[];
}

/** The path a test run took, drawn over the canvas. `order` numbers nodes in visit order. */
export interface Highlight {
  order: Record<string, number>;
  edges: Record<string, true>;
  /** Where the simulated user is still waiting at the end of the run. */
  waitingAt?: string;
  /** Many users: `order` holds how many users reached each node, not a step number. */
  counts?: boolean;
}

export interface Notice {
  kind: "connection";
  problem: ConnectionProblem;
  /** Screen position (client pixels) to show the reason at, if known. */
  at?: { x: number; y: number };
}

export interface CanvasState {
  name: string;
  settings: JourneySettings;
  nodes: CanvasNode[];
  edges: CanvasEdge[];
  readOnly: boolean;
  past: Snapshot[];
  future: Snapshot[];
  /** Bumps on every change to the saved document; autosave watches it. */
  revision: number;
  /** Bumps on changes that can change validation (not on moves); validation watches it. */
  structure: number;
  /** Compile errors by node id (plus journey-level ones under ""), from the last `validate()`. */
  problems: Record<string, CompileError[]>;
  problemList: CompileError[];
  highlight: Highlight | null;
  notice: Notice | null;
  /** After a refused publish, problems show as errors rather than hints. */
  strict: boolean;
}

export interface CanvasActions {
  load(doc: JourneyDocument, options?: { readOnly?: boolean }): void;
  onNodesChange(changes: NodeChange<CanvasNode>[]): void;
  onEdgesChange(changes: EdgeChange<CanvasEdge>[]): void;
  /** Adds the wire or explains the refusal (also raised as a notice). */
  connect(request: ConnectionRequest, at?: { x: number; y: number }): ConnectionProblem | null;
  addNode(type: string, position: XYPosition): string | null;
  updateNode(id: string, patch: { config?: unknown; label?: string }, coalesceKey?: string): void;
  updateSettings(settings: JourneySettings, coalesceKey?: string): void;
  rename(name: string, coalesceKey?: string): void;
  select(ids: readonly string[]): void;
  selectAll(): void;
  clearSelection(): void;
  deleteSelection(): void;
  copySelection(): ClipboardPayload | null;
  paste(payload: ClipboardPayload, at?: XYPosition): string[];
  autoLayout(): void;
  /** Replaces the document as one undoable step (restore from backup, reapply after conflict). */
  replaceDocument(doc: JourneyDocument): void;
  undo(): void;
  redo(): void;
  validate(): void;
  setHighlight(highlight: Highlight | null): void;
  setStrict(strict: boolean): void;
  dismissNotice(): void;
  document(): JourneyDocument;
}

export type CanvasStore = StoreApi<CanvasState & CanvasActions>;

const HISTORY_LIMIT = 200;
/** Keystrokes in one field within this window undo as one step. */
const COALESCE_MS = 1200;
/** Where pasted groups land when no pointer position is known: beside the originals. */
const PASTE_OFFSET = 40;

const emptySettings: JourneySettings = { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] };

/** Compile errors grouped by node, reusing unchanged arrays so only affected cards re-render. */
function validation(doc: JourneyDocument, previous: Record<string, CompileError[]>): Pick<CanvasState, "problems" | "problemList"> {
  const result = compileJourney(doc);
  // Warnings (copy that will be cut...) show too; they just do not stop a publish.
  const list = result.ok ? result.warnings : result.errors;
  const grouped: Record<string, CompileError[]> = {};
  for (const error of list) (grouped[error.nodeId ?? ""] ??= []).push(error);
  const problems: Record<string, CompileError[]> = {};
  for (const [id, errors] of Object.entries(grouped)) {
    problems[id] = previous[id] && JSON.stringify(previous[id]) === JSON.stringify(errors) ? previous[id] : errors;
  }
  return { problems, problemList: list };
}

/**
 * `document` is the store's initial state, not a later load: server rendering reads the initial
 * state, so a journey opened this way is already on the canvas in the HTML.
 */
export function createCanvasStore(options: { now?: () => number; document?: JourneyDocument; readOnly?: boolean } = {}): CanvasStore {
  const now = options.now ?? (() => Date.now());
  let lastCommit: { key: string; at: number } | null = null;
  /** Document state when the current drag started; committed as one step when it ends. */
  let dragOrigin: Snapshot | null = null;

  return createStore<CanvasState & CanvasActions>()((set, get) => {
    const snapshot = (): Snapshot => {
      const s = get();
      return { name: s.name, settings: s.settings, nodes: s.nodes, edges: s.edges };
    };

    /** Applies a document change as one undo step (or merges it into the previous one). */
    const commit = (change: Partial<Snapshot>, options: { key?: string; structural?: boolean } = {}) => {
      if (get().readOnly) return;
      const s = get();
      const at = now();
      const coalesce = options.key !== undefined && lastCommit?.key === options.key && at - lastCommit.at < COALESCE_MS;
      lastCommit = options.key !== undefined ? { key: options.key, at } : null;
      set({
        ...change,
        past: coalesce ? s.past : [...s.past, snapshot()].slice(-HISTORY_LIMIT),
        future: [],
        revision: s.revision + 1,
        structure: options.structural === false ? s.structure : s.structure + 1,
      });
    };

    /** Restores a snapshot, keeping React Flow's measurements so cards do not flicker. */
    const restore = (target: Snapshot) => {
      const measured = new Map(get().nodes.map((n) => [n.id, n.measured]));
      return {
        ...target,
        nodes: target.nodes.map((n) => (measured.get(n.id) ? { ...n, measured: measured.get(n.id), dragging: false } : { ...n, dragging: false })),
      };
    };

    const withSelection = (ids: ReadonlySet<string>) => ({
      nodes: get().nodes.map((n) => (Boolean(n.selected) === ids.has(n.id) ? n : { ...n, selected: ids.has(n.id) })),
      edges: get().edges.map((e) => (e.selected ? { ...e, selected: false } : e)),
    });

    return {
      ...(options.document ? fromDocument(options.document) : { name: "", settings: emptySettings, nodes: [], edges: [] }),
      ...(options.document ? validation(options.document, {}) : { problems: {}, problemList: [] }),
      readOnly: options.readOnly ?? false,
      past: [],
      future: [],
      revision: 0,
      structure: 0,
      highlight: null,
      notice: null,
      strict: false,

      load(doc, options = {}) {
        const canvas = fromDocument(doc);
        lastCommit = null;
        dragOrigin = null;
        set({ ...canvas, readOnly: options.readOnly ?? false, past: [], future: [], revision: 0, structure: get().structure + 1, highlight: null, notice: null, strict: false });
        get().validate();
      },

      onNodesChange(changes) {
        const s = get();
        const moves = changes.filter((c) => c.type === "position");
        const removes = changes.filter((c) => c.type === "remove");
        if (s.readOnly && (moves.length > 0 || removes.length > 0)) {
          set({ nodes: applyNodeChanges(changes.filter((c) => c.type === "select" || c.type === "dimensions"), s.nodes) });
          return;
        }
        const next = applyNodeChanges(changes, s.nodes);
        if (removes.length > 0) {
          const gone = new Set(removes.map((c) => c.id));
          commit({ nodes: next, edges: s.edges.filter((e) => !gone.has(e.source) && !gone.has(e.target)) });
          return;
        }
        if (moves.length === 0) {
          set({ nodes: next });
          return;
        }
        const dragging = moves.some((c) => c.type === "position" && c.dragging);
        if (dragging) {
          // Frames of a drag are not undo steps: remember where it started.
          dragOrigin ??= snapshot();
          set({ nodes: next });
          return;
        }
        if (dragOrigin) {
          const origin = dragOrigin;
          dragOrigin = null;
          lastCommit = null;
          set({ nodes: next, past: [...s.past, origin].slice(-HISTORY_LIMIT), future: [], revision: s.revision + 1 });
          return;
        }
        // Arrow-key nudges: one undo step per burst.
        commit({ nodes: next }, { key: `move:${moves.map((c) => c.id).join(",")}`, structural: false });
      },

      onEdgesChange(changes) {
        const s = get();
        const structural = changes.some((c) => c.type === "remove" || c.type === "add" || c.type === "replace");
        const next = applyEdgeChanges(changes, s.edges);
        if (structural && !s.readOnly) commit({ edges: next });
        else set({ edges: applyEdgeChanges(changes.filter((c) => c.type === "select"), s.edges) });
      },

      connect(request, at) {
        const s = get();
        const problem = checkConnection(request, s.nodes, s.edges, s.readOnly);
        if (problem) {
          set({ notice: { kind: "connection", problem, ...(at ? { at } : {}) } });
          return problem;
        }
        const port = request.sourceHandle!;
        commit({
          edges: [...s.edges, { id: edgeId(request.source, port), source: request.source, sourceHandle: port, target: request.target, targetHandle: INPUT_HANDLE }],
        });
        return null;
      },

      addNode(type, position) {
        const def = getNodeDefinition(type);
        const s = get();
        if (!def || s.readOnly) return null;
        const id = newNodeId(type, new Set(s.nodes.map((n) => n.id)));
        const node: CanvasNode = {
          id,
          type: JOURNEY_NODE,
          position,
          // A deep copy: defaults are shared by every node of the type.
          data: { nodeType: type, typeVersion: def.version, config: structuredClone(def.defaults) },
          selected: true,
        };
        commit({ nodes: [...s.nodes.map((n) => (n.selected ? { ...n, selected: false } : n)), node] });
        return id;
      },

      updateNode(id, patch, coalesceKey) {
        const s = get();
        const current = s.nodes.find((n) => n.id === id);
        if (!current) return;
        const updated: CanvasNode = { ...current, data: { ...current.data, ...patch } };
        if (patch.label !== undefined && patch.label.trim() === "") delete updated.data.label;
        // Wires from ports the new config no longer has would point at nothing.
        const ports = new Set(portsOfNode(updated).map((p) => p.id));
        const edges = patch.config === undefined ? s.edges : s.edges.filter((e) => e.source !== id || ports.has(e.sourceHandle ?? ""));
        commit({ nodes: s.nodes.map((n) => (n.id === id ? updated : n)), edges }, { key: coalesceKey ?? `node:${id}` });
      },

      updateSettings(settings, coalesceKey) {
        commit({ settings }, { key: coalesceKey ?? "settings" });
      },

      rename(name, coalesceKey) {
        commit({ name }, { key: coalesceKey ?? "name", structural: false });
      },

      select(ids) {
        set(withSelection(new Set(ids)));
      },

      selectAll() {
        set({ nodes: get().nodes.map((n) => (n.selected ? n : { ...n, selected: true })) });
      },

      clearSelection() {
        set(withSelection(new Set()));
      },

      deleteSelection() {
        const s = get();
        const gone = new Set(s.nodes.filter((n) => n.selected).map((n) => n.id));
        const edges = s.edges.filter((e) => !e.selected && !gone.has(e.source) && !gone.has(e.target));
        if (gone.size === 0 && edges.length === s.edges.length) return;
        commit({ nodes: s.nodes.filter((n) => !gone.has(n.id)), edges });
      },

      copySelection() {
        const s = get();
        return copyPayload(s.nodes, s.edges);
      },

      paste(payload, at) {
        const s = get();
        if (s.readOnly) return [];
        const origin = at ?? {
          x: Math.min(...payload.nodes.map((n) => n.position.x)) + PASTE_OFFSET,
          y: Math.min(...payload.nodes.map((n) => n.position.y)) + PASTE_OFFSET,
        };
        const pasted = instantiatePayload(payload, new Set(s.nodes.map((n) => n.id)), origin);
        commit({
          nodes: [...s.nodes.map((n) => (n.selected ? { ...n, selected: false } : n)), ...pasted.nodes],
          edges: [...s.edges.map((e) => (e.selected ? { ...e, selected: false } : e)), ...pasted.edges],
        });
        return pasted.nodes.map((n) => n.id);
      },

      autoLayout() {
        const s = get();
        if (s.nodes.length === 0) return;
        commit({ nodes: layoutNodes(s.nodes, s.edges) }, { structural: false });
      },

      replaceDocument(doc) {
        commit(fromDocument(doc));
      },

      undo() {
        const s = get();
        const previous = s.past[s.past.length - 1];
        if (!previous || s.readOnly) return;
        lastCommit = null;
        set({ ...restore(previous), past: s.past.slice(0, -1), future: [snapshot(), ...s.future], revision: s.revision + 1, structure: s.structure + 1 });
      },

      redo() {
        const s = get();
        const next = s.future[0];
        if (!next || s.readOnly) return;
        lastCommit = null;
        set({ ...restore(next), past: [...s.past, snapshot()], future: s.future.slice(1), revision: s.revision + 1, structure: s.structure + 1 });
      },

      validate() {
        const s = get();
        set(validation(toDocument(s), s.problems));
      },

      setHighlight(highlight) {
        set({ highlight });
      },

      setStrict(strict) {
        set({ strict });
      },

      dismissNotice() {
        set({ notice: null });
      },

      document() {
        return toDocument(get());
      },
    };
  });
}
