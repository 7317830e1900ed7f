import { useMemo } from "react";
import { useTranslation } from "react-i18next";
import type { InspectorProps } from "../registry";
import { SchemaForm } from "../SchemaForm";
import { withBranchIds } from "./branchIds";

/** Random split: branches by label and percentage, with the running total and an even split. */
export function SplitInspector({ nodeId, definition, config, onChange, readOnly, hints }: InspectorProps) {
  const { t } = useTranslation("canvas");
  const allHints = useMemo(() => ({ ...hints, "branches.*.id": { hidden: true } }), [hints]);
  const branches = Array.isArray((config as { branches?: unknown } | null)?.branches) ? (config as { branches: Array<{ percent?: number }> }).branches : [];
  const total = branches.reduce((sum, b) => sum + (typeof b.percent === "number" ? b.percent : 0), 0);
  const even = () => {
    // Whole-number shares; the first branches absorb the remainder so the total is exactly 100.
    const base = Math.floor(100 / branches.length);
    const extra = 100 - base * branches.length;
    onChange({ ...(config as object), branches: branches.map((b, i) => ({ ...b, percent: base + (i < extra ? 1 : 0) })) }, "branches.even");
  };
  return (
    <>
      <p className="ins-help">{t("split.help")}</p>
      <SchemaForm schema={definition.config} value={config} onChange={(next, field) => onChange(withBranchIds(next), field)} disabled={readOnly} hints={allHints} idPrefix={nodeId} />
      <p className={`ins-counter${Math.abs(total - 100) > 1e-6 ? " over" : ""}`}>
        {t("split.total", { total })}{" "}
        <button type="button" className="link" disabled={readOnly || branches.length === 0} onClick={even}>
          {t("split.even")}
        </button>
      </p>
    </>
  );
}
