import {
  Background,
  BackgroundVariant,
  Controls,
  ReactFlow,
  useReactFlow,
  type Connection,
  type FinalConnectionState,
  type IsValidConnection,
  type OnConnectEnd,
} from "@xyflow/react";
import { useCallback, useMemo, useState, type DragEvent } from "react";
import { useTranslation } from "react-i18next";
import { checkConnection } from "./connections";
import { useCanvas, useCanvasStore } from "./context";
import { nodeTypes } from "./JourneyNode";
import { DEFAULT_NODE_SIZE } from "./layout";
import type { CanvasEdge, CanvasNode } from "./model";
import { Overview } from "./Overview";
import { PALETTE_MIME } from "./Palette";

/** The node card under a screen point: lets a wire dropped anywhere on a card connect to it. */
function nodeAt(x: number, y: number): string | null {
  const element = document.elementFromPoint(x, y)?.closest<HTMLElement>(".react-flow__node");
  return element?.dataset.id ?? null;
}

function pointOf(event: MouseEvent | TouchEvent): { x: number; y: number } {
  const point = "changedTouches" in event ? event.changedTouches[0] : event;
  return { x: point.clientX, y: point.clientY };
}

export function Canvas({ onReady }: { onReady?: () => void }) {
  const { t } = useTranslation("canvas");
  const store = useCanvasStore();
  const nodes = useCanvas((s) => s.nodes);
  const edges = useCanvas((s) => s.edges);
  const readOnly = useCanvas((s) => s.readOnly);
  const highlight = useCanvas((s) => s.highlight);
  const onNodesChange = useCanvas((s) => s.onNodesChange);
  const onEdgesChange = useCanvas((s) => s.onEdgesChange);
  const flow = useReactFlow<CanvasNode, CanvasEdge>();
  // Fit an opened journey once. An empty canvas must not re-fit when its first node lands,
  // or the view jumps away from where the operator is dropping the next ones.
  const [fitOnOpen] = useState(() => store.getState().nodes.length > 0);

  // Only the test-run overlay restyles wires; without it the store's array is passed through.
  const shownEdges = useMemo(
    () => (highlight ? edges.map((e) => (highlight.edges[e.id] ? { ...e, className: "on-path", animated: true } : { ...e, className: "dimmed" })) : edges),
    [edges, highlight],
  );

  const isValidConnection = useCallback<IsValidConnection<CanvasEdge>>(
    (c) => {
      const s = store.getState();
      return checkConnection({ source: c.source, sourceHandle: c.sourceHandle, target: c.target }, s.nodes, s.edges, s.readOnly) === null;
    },
    [store],
  );

  const onConnect = useCallback((c: Connection) => store.getState().connect(c), [store]);

  const onConnectEnd = useCallback<OnConnectEnd>(
    (event, state: FinalConnectionState) => {
      if (state.isValid || !state.fromNode || state.fromHandle?.type !== "source") return;
      const at = pointOf(event);
      const target = state.toNode?.id ?? nodeAt(at.x, at.y);
      if (!target) return; // let go over empty canvas: nothing was attempted
      store.getState().connect({ source: state.fromNode.id, sourceHandle: state.fromHandle.id, target }, at);
    },
    [store],
  );

  const onDragOver = useCallback((event: DragEvent) => {
    if (!event.dataTransfer.types.includes(PALETTE_MIME)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  }, []);

  const onDrop = useCallback(
    (event: DragEvent) => {
      const type = event.dataTransfer.getData(PALETTE_MIME);
      if (!type) return;
      event.preventDefault();
      const point = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
      // The card is centred on the pointer, where the operator is looking.
      store.getState().addNode(type, { x: Math.round(point.x - DEFAULT_NODE_SIZE.width / 2), y: Math.round(point.y - 24) });
    },
    [flow, store],
  );

  return (
    <div className="wp-canvas" onDragOver={onDragOver} onDrop={onDrop} data-testid="canvas">
      <ReactFlow<CanvasNode, CanvasEdge>
        nodes={nodes}
        edges={shownEdges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        onConnectEnd={onConnectEnd}
        isValidConnection={isValidConnection}
        onInit={onReady}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        edgesReconnectable={false}
        // Deletion goes through the store (one undo step for nodes and their wires).
        deleteKeyCode={null}
        multiSelectionKeyCode={["Meta", "Control"]}
        selectionKeyCode="Shift"
        defaultEdgeOptions={{ type: "smoothstep" }}
        connectionRadius={28}
        minZoom={0.1}
        maxZoom={2}
        fitView={fitOnOpen}
        fitViewOptions={{ maxZoom: 1, padding: 0.2 }}
        // Cards outside the viewport are not rendered: with every card mounted a drag frame costs
        // about ten times more at 500 nodes (docs/benchmarks.md).
        onlyRenderVisibleElements={nodes.length > 50}
        aria-label={t("canvas.label")}
      >
        <Background variant={BackgroundVariant.Dots} gap={18} size={1} />
        {nodes.length > 0 ? <Overview /> : null}
        <Controls showInteractive={false} aria-label={t("canvas.zoomControls")} />
      </ReactFlow>
      {nodes.length === 0 ? (
        <div className="wp-canvas-empty" data-testid="canvas-empty">
          <h2>{t("canvas.emptyTitle")}</h2>
          <p>{t("canvas.emptyBody")}</p>
        </div>
      ) : null}
    </div>
  );
}
