import { Handle, Position, type NodeProps, type NodeTypes } from "@xyflow/react";
import { memo } from "react";
import { useTranslation } from "react-i18next";
import { getNodeDefinition } from "../../nodes/registry";
import { useCanvas } from "./context";
import { useLocale } from "./locale";
import { INPUT_HANDLE, JOURNEY_NODE, portsOf, summaryOf, type CanvasNode } from "./model";

const noPorts: never[] = [];
import { NodeStatsView, PortCount, useNodeStats } from "./stats";

/**
 * The one node component. Everything on the card is derived from the definition and the
 * node's config: label, icon, summary, one input, and one output handle per port the
 * definition declares, labelled in the operator's language.
 */
/**
 * React Flow re-renders a node on every frame it is dragged (its position props change); the card
 * itself only depends on id, data and selection, so it sits behind its own memo.
 */
function JourneyNodeView({ id, data, selected }: NodeProps<CanvasNode>) {
  return <NodeCard id={id} data={data} selected={Boolean(selected)} />;
}

const NodeCard = memo(function NodeCard({ id, data, selected }: { id: string; data: CanvasNode["data"]; selected: boolean }) {
  const { t } = useTranslation("canvas");
  const locale = useLocale();
  const def = getNodeDefinition(data.nodeType);
  const problems = useCanvas((s) => s.problems[id]);
  const strict = useCanvas((s) => s.strict);
  const order = useCanvas((s) => s.highlight?.order[id]);
  const waiting = useCanvas((s) => s.highlight?.waitingAt === id);
  const countsMode = useCanvas((s) => s.highlight?.counts === true);
  const dimmed = useCanvas((s) => s.highlight !== null && s.highlight.order[id] === undefined);
  const stats = useNodeStats(id);
  const ports = def ? portsOf(def, data.config) : noPorts;
  const summary = def ? summaryOf(def, data.config, locale) : "";

  if (!def) {
    return (
      <div className="wp-node unknown" data-testid={`node-${id}`}>
        <Handle type="target" position={Position.Top} id={INPUT_HANDLE} />
        <div className="wp-node-head">
          <span className="wp-node-title">{t("node.unknownType", { type: data.nodeType })}</span>
        </div>
      </div>
    );
  }

  const danglingPorts = new Set((problems ?? []).filter((p) => p.code === "dangling_port").map((p) => p.path));
  const classes = ["wp-node", `cat-${def.category}`];
  if (selected) classes.push("selected");
  if (problems?.length) classes.push(strict ? "has-errors" : "has-warnings");
  if (order !== undefined) classes.push("on-path");
  if (dimmed) classes.push("dimmed");

  return (
    <div className={classes.join(" ")} data-testid={`node-${id}`} data-node-type={data.nodeType} aria-label={`${data.label ?? def.label[locale]}: ${summary}`}>
      {def.kind === "trigger" ? null : <Handle type="target" position={Position.Top} id={INPUT_HANDLE} className="wp-handle-in" />}
      <div className="wp-node-head">
        <span className="wp-node-icon" aria-hidden>
          {def.icon}
        </span>
        <span className="wp-node-title">{data.label ?? def.label[locale]}</span>
        {data.label ? <span className="wp-node-type">{def.label[locale]}</span> : null}
        {order !== undefined ? (
          <span className="wp-node-step" title={countsMode ? t("testRun.usersHere", { n: order }) : t("testRun.stepN", { n: order })} data-testid={`testrun-badge-${id}`}>
            {countsMode ? `×${order}` : order}
          </span>
        ) : null}
      </div>
      {/* An unconfigured node's problem line already says what is missing. */}
      {problems?.some((p) => p.code === "unconfigured") ? null : <div className="wp-node-summary">{summary}</div>}
      {waiting ? <div className="wp-node-waiting">{t("testRun.stillWaiting")}</div> : null}
      {problems?.length ? (
        <div className="wp-node-problems" role="note" data-testid={`node-problems-${id}`}>
          ⚠ {problems[0].message[locale]}
          {problems.length > 1 ? ` ${t("node.moreProblems", { count: problems.length - 1 })}` : null}
        </div>
      ) : null}
      <NodeStatsView nodeId={id} nodeType={data.nodeType} kind={def.kind} />
      {ports.length > 0 ? (
        <div className="wp-node-ports">
          {ports.map((port) => (
            <span key={port.id} className={danglingPorts.has(port.id) ? "dangling" : undefined}>
              {port.label[locale]}
              {stats !== undefined && ports.length > 1 ? <PortCount stats={stats} port={port} /> : null}
            </span>
          ))}
        </div>
      ) : null}
      {ports.map((port, i) => (
        <Handle
          key={port.id}
          type="source"
          position={Position.Bottom}
          id={port.id}
          className={`wp-handle-out${danglingPorts.has(port.id) ? " dangling" : ""}`}
          style={{ left: `${((i + 0.5) / ports.length) * 100}%` }}
          title={port.label[locale]}
          data-testid={`port-${id}-${port.id}`}
        />
      ))}
    </div>
  );
});

/** Module scope, as React Flow requires: a new object per render would remount every node. */
export const nodeTypes: NodeTypes = { [JOURNEY_NODE]: memo(JourneyNodeView) };
