import { useTranslation } from "react-i18next";

/** Browser-safe: node and port names of a journey version (built by app/lib/node-names.server.ts). */
export interface NodeName {
  type: string;
  label: { en: string; zh: string };
  ports: Record<string, { en: string; zh: string }>;
}
export type NodeNames = Record<string, NodeName>;

/**
 * Operator words for node and port ids in the current language. Unknown ids (a node removed from
 * the version, an extension not loaded) fall back to the id itself rather than to nothing.
 */
export function useNodeNames(names: NodeNames | null | undefined) {
  const { i18n } = useTranslation();
  const lang = i18n.language === "zh" ? "zh" : "en";
  return {
    node: (id: string | null | undefined) => (id ? (names?.[id]?.label[lang] ?? id) : "—"),
    port: (nodeId: string | null | undefined, port: string | null | undefined) => (port ? ((nodeId ? names?.[nodeId]?.ports[port]?.[lang] : undefined) ?? port) : ""),
    /** A node with a single way out (Wait → Next): naming the port adds nothing. */
    singlePort: (nodeId: string | null | undefined) => (nodeId ? Object.keys(names?.[nodeId]?.ports ?? {}).length <= 1 : true),
  };
}

/** A node's title with its raw id kept as a tooltip for developers. */
export function NodeTitle({ id, names }: { id: string | null | undefined; names: NodeNames | null | undefined }) {
  const { node } = useNodeNames(names);
  if (!id) return <>—</>;
  return (
    <span className="ops-node" title={id} data-node-id={id}>
      {node(id)}
    </span>
  );
}

/** A failure or step reason in words: channel failure reasons, node reasons, else the code. */
export function useFailureReason() {
  const { t } = useTranslation(["ops", "channels", "engine"]);
  return (reason: string | null | undefined) => {
    if (!reason) return "—";
    const [code, ...rest] = reason.split(":");
    const key = code!.trim();
    const words = t(`channels:reason.${key}`, { defaultValue: "" }) || t(`ops:nodeReason.${key}`, { defaultValue: "" }) || t(`engine:failure.${key}`, { defaultValue: "" }) || t(`ops:reason.${key}`, { defaultValue: "" });
    if (!words) return reason;
    const detail = rest.join(":").trim();
    return detail ? `${words} (${detail})` : words;
  };
}
