import { useTranslation } from "react-i18next";
import { getNodeDefinition } from "../../nodes/registry";
import type { CompileError } from "../../workflows/program";
import { trpc } from "../trpc/client";
import { useCanvas } from "./context";
import { useLocale } from "./locale";

/** Compile problems, each a button that takes the operator to the node it is about. */
export function ProblemsPanel({ onFocus, onClose }: { onFocus(error: CompileError): void; onClose(): void }) {
  const { t } = useTranslation("canvas");
  const locale = useLocale();
  const problems = useCanvas((s) => s.problemList);
  const strict = useCanvas((s) => s.strict);
  const nodes = useCanvas((s) => s.nodes);
  const nodeName = (id: string | undefined) => {
    if (!id) return t("problems.journey");
    const node = nodes.find((n) => n.id === id);
    const def = node ? getNodeDefinition(node.data.nodeType) : undefined;
    return node?.data.label ?? def?.label[locale] ?? id;
  };
  return (
    <section className={`wp-problems${strict ? " strict" : ""}`} aria-label={t("problems.title")} data-testid="problems">
      <header>
        <h2>{problems.length ? t("problems.count", { count: problems.length }) : t("problems.none")}</h2>
        <button type="button" className="icon" aria-label={t("problems.close")} onClick={onClose}>
          ×
        </button>
      </header>
      {strict && problems.length ? <p className="wp-problems-lead">{t("problems.publishRefused")}</p> : null}
      <ul>
        {problems.map((p, i) => (
          <li key={i}>
            <button type="button" className="wp-problem" onClick={() => onFocus(p)} data-testid="problem">
              {p.severity === "warning" ? <span className="wp-problem-severity">{t("problems.warning")}</span> : null}
              <strong>{nodeName(p.nodeId)}</strong> {p.message[locale]}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Published versions: who published what and when, the size change, and restore. */
export function VersionsPanel({ journeyId, liveVersion, canEdit, onRestored }: { journeyId: string; liveVersion: number | null; canEdit: boolean; onRestored(version: number): void }) {
  const { t, i18n } = useTranslation("canvas");
  const versions = trpc.journeys.versions.useQuery({ id: journeyId });
  const restore = trpc.journeys.restore.useMutation({ onSuccess: (_data, input) => onRestored(input.version) });
  const date = (value: Date | null) => (value ? new Date(value).toLocaleString(i18n.language === "zh" ? "zh-CN" : "en-GB") : "—");
  const list = versions.data ?? [];
  return (
    <div className="ins-panel" data-testid="versions">
      <header className="ins-header">
        <div>
          <h2>{t("versions.title")}</h2>
          <p className="muted">{t("versions.intro")}</p>
        </div>
      </header>
      {versions.isLoading ? <p className="muted">{t("loading")}</p> : null}
      {list.length === 0 && !versions.isLoading ? <p className="muted">{t("versions.none")}</p> : null}
      <ol className="wp-versions">
        {list.map((v, i) => {
          const older = list[i + 1];
          const delta = older ? v.nodeCount - older.nodeCount : null;
          return (
            <li key={v.id} data-testid={`version-${v.version}`}>
              <div className="wp-version-head">
                <strong>{t("versions.version", { n: v.version })}</strong>
                {v.version === liveVersion ? <span className="wp-badge live">{t("status.live")}</span> : null}
              </div>
              <p className="muted">{t("versions.publishedBy", { who: v.publishedBy ?? t("versions.someone"), at: date(v.publishedAt) })}</p>
              <p>
                {t("versions.size", { nodes: v.nodeCount, edges: v.edgeCount })}
                {delta !== null ? ` · ${delta === 0 ? t("versions.sameNodes") : t("versions.delta", { delta: delta > 0 ? `+${delta}` : `−${Math.abs(delta)}` })}` : ` · ${t("versions.first")}`}
              </p>
              {canEdit ? (
                <button type="button" className="link" disabled={restore.isPending} onClick={() => window.confirm(t("versions.confirmRestore", { n: v.version })) && restore.mutate({ id: journeyId, version: v.version })}>
                  {t("versions.restore")}
                </button>
              ) : null}
            </li>
          );
        })}
      </ol>
      {restore.error ? <p className="form-error">{restore.error.message}</p> : null}
    </div>
  );
}
