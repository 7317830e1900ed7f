import { Panel, useReactFlow, useStoreApi } from "@xyflow/react";
import { useEffect, useRef } from "react";
import { useTranslation } from "react-i18next";
import { getNodeDefinition } from "../../nodes/registry";
import { useCanvasStore } from "./context";
import { DEFAULT_NODE_SIZE } from "./layout";
import type { CanvasEdge, CanvasNode } from "./model";

const WIDTH = 168;
const HEIGHT = 112;
const PAD = 6;

const categoryColors: Record<string, string> = {
  triggers: "#16a34a",
  flow: "#4f46e5",
  messages: "#ea580c",
  data: "#0d9488",
  custom: "#64748b",
};

/**
 * The overview map, drawn on a <canvas>: React Flow's SVG minimap re-renders one element per node
 * on every frame of a drag, which on a 500-node journey costs more than the drag itself. Here a
 * change schedules one redraw per animation frame, and drawing 500 rectangles is a fraction of a
 * millisecond. Click or drag on it to move the view there.
 */
export function Overview() {
  const { t } = useTranslation("canvas");
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const store = useCanvasStore();
  const flowStore = useStoreApi<CanvasNode, CanvasEdge>();
  const flow = useReactFlow<CanvasNode, CanvasEdge>();
  /** Flow → map projection of the last drawing, for turning clicks back into flow positions. */
  const projection = useRef({ scale: 1, x: 0, y: 0 });

  useEffect(() => {
    let frame = 0;
    const draw = () => {
      frame = 0;
      const canvas = canvasRef.current;
      const ctx = canvas?.getContext("2d");
      if (!canvas || !ctx) return;
      const ratio = window.devicePixelRatio || 1;
      if (canvas.width !== WIDTH * ratio) {
        canvas.width = WIDTH * ratio;
        canvas.height = HEIGHT * ratio;
      }
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.clearRect(0, 0, WIDTH, HEIGHT);
      const { nodes } = store.getState();
      const { transform, width, height } = flowStore.getState();
      const [tx, ty, zoom] = transform;
      const view = { x: -tx / zoom, y: -ty / zoom, w: width / zoom, h: height / zoom };
      let minX = view.x;
      let minY = view.y;
      let maxX = view.x + view.w;
      let maxY = view.y + view.h;
      for (const n of nodes) {
        minX = Math.min(minX, n.position.x);
        minY = Math.min(minY, n.position.y);
        maxX = Math.max(maxX, n.position.x + (n.measured?.width ?? DEFAULT_NODE_SIZE.width));
        maxY = Math.max(maxY, n.position.y + (n.measured?.height ?? DEFAULT_NODE_SIZE.height));
      }
      const scale = Math.min((WIDTH - 2 * PAD) / Math.max(1, maxX - minX), (HEIGHT - 2 * PAD) / Math.max(1, maxY - minY));
      const ox = PAD - minX * scale + ((WIDTH - 2 * PAD) - (maxX - minX) * scale) / 2;
      const oy = PAD - minY * scale + ((HEIGHT - 2 * PAD) - (maxY - minY) * scale) / 2;
      projection.current = { scale, x: ox, y: oy };
      for (const n of nodes) {
        ctx.fillStyle = categoryColors[getNodeDefinition(n.data.nodeType)?.category ?? "custom"];
        const w = (n.measured?.width ?? DEFAULT_NODE_SIZE.width) * scale;
        const h = (n.measured?.height ?? DEFAULT_NODE_SIZE.height) * scale;
        ctx.fillRect(n.position.x * scale + ox, n.position.y * scale + oy, Math.max(1.5, w), Math.max(1.5, h));
      }
      ctx.strokeStyle = "#1d2433";
      ctx.lineWidth = 1.5;
      ctx.strokeRect(view.x * scale + ox, view.y * scale + oy, view.w * scale, view.h * scale);
    };
    const schedule = () => {
      if (!frame) frame = requestAnimationFrame(draw);
    };
    schedule();
    const offCanvas = store.subscribe((s, prev) => s.nodes !== prev.nodes && schedule());
    const offFlow = flowStore.subscribe((s, prev) => (s.transform !== prev.transform || s.width !== prev.width || s.height !== prev.height) && schedule());
    return () => {
      offCanvas();
      offFlow();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [store, flowStore]);

  const moveTo = (event: React.PointerEvent<HTMLCanvasElement>) => {
    const rect = event.currentTarget.getBoundingClientRect();
    const { scale, x, y } = projection.current;
    void flow.setCenter((event.clientX - rect.left - x) / scale, (event.clientY - rect.top - y) / scale, { zoom: flow.getZoom() });
  };

  return (
    <Panel position="bottom-right" className="wp-overview">
      <canvas
        ref={canvasRef}
        width={WIDTH}
        height={HEIGHT}
        style={{ width: WIDTH, height: HEIGHT }}
        role="img"
        aria-label={t("canvas.minimap")}
        onPointerDown={(event) => {
          event.currentTarget.setPointerCapture(event.pointerId);
          moveTo(event);
        }}
        onPointerMove={(event) => event.buttons === 1 && moveTo(event)}
      />
    </Panel>
  );
}
