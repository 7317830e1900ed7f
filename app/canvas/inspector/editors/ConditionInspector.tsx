import { useMemo } from "react";
import { useTranslation } from "react-i18next";
import { useShallow } from "zustand/react/shallow";
import { conditionRuleSchema, messageStates, type ConditionRule } from "../../../../nodes/condition/definition";
import type { Duration } from "../../../../nodes/duration";
import { getNodeDefinition } from "../../../../nodes/registry";
import { useCanvas } from "../../context";
import { DraftInput, parseNumber } from "../inputs";
import { describeSchema, switchVariant, type Field } from "../introspect";
import type { FieldEditorProps, InspectorProps } from "../registry";
import { SchemaForm } from "../SchemaForm";
import { DurationInput, EVENTS_DATALIST, FilterRow, FiltersInput, TRAITS_DATALIST } from "../widgets";
import { withBranchIds } from "./branchIds";

/**
 * Condition rule builder. Each rule reads as a sentence — "trait city = 上海", "did
 * order_completed in the last 30 days", "push_1 message was not delivered" — over the three
 * sources PRODUCT.md names: traits, event history and message state.
 */

const ruleField = describeSchema(conditionRuleSchema).field as Extract<Field, { kind: "variant" }>;
const countOps = ["gt", "gte", "eq", "lte", "lt"] as const;

type Rule = Partial<ConditionRule> & { kind?: ConditionRule["kind"] };

function Within({ value, onChange, disabled, optional }: { value: Duration | undefined; onChange(v: Duration | undefined): void; disabled: boolean; optional: boolean }) {
  const { t } = useTranslation("canvas");
  const on = value !== undefined;
  return (
    <span className="ins-inline">
      {optional ? (
        <label className="ins-toggle">
          <input type="checkbox" checked={on} disabled={disabled} onChange={() => onChange(on ? undefined : { amount: 30, unit: "days" })} />
          {t("condition.inTheLast")}
        </label>
      ) : (
        <span>{t("condition.inTheLast")}</span>
      )}
      {on || !optional ? (
        <DurationInput value={value} onChange={(v) => onChange(v as Duration)} disabled={disabled} />
      ) : null}
    </span>
  );
}

export function RuleEditor({ id, value, onChange, disabled }: FieldEditorProps) {
  const { t } = useTranslation("canvas");
  const rule = (value ?? {}) as Rule;
  const messageNodes = useCanvas(
    useShallow((s) =>
      s.nodes
        .filter((n) => getNodeDefinition(n.data.nodeType)?.channel)
        .map((n) => `${n.id}\u001f${n.data.label ?? getNodeDefinition(n.data.nodeType)!.label.en}`),
    ),
  );
  const set = (patch: Record<string, unknown>) => {
    const next: Record<string, unknown> = { ...rule, ...patch };
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete next[k];
    onChange(next);
  };
  const eventInput = (
    <DraftInput className="grow" aria-label={t("fields.event")} list={EVENTS_DATALIST} disabled={disabled} value={"event" in rule ? rule.event : ""} onValue={(event) => set({ event })} placeholder="order_completed" />
  );
  const filters =
    "filters" in rule ? (
      <details className="ins-sub" open={(rule.filters?.length ?? 0) > 0}>
        <summary>{t("condition.propertyFilters", { count: rule.filters?.length ?? 0 })}</summary>
        <FiltersInput id={`${id}-filters`} value={rule.filters} onChange={(filters) => set({ filters })} disabled={disabled} />
      </details>
    ) : null;

  return (
    <div className="ins-rule" id={id}>
      <select aria-label={t("fields.kind")} disabled={disabled} value={rule.kind ?? ""} onChange={(e) => onChange(switchVariant(ruleField, rule, e.target.value))}>
        {ruleField.options.map((o) => (
          <option key={o.value} value={o.value}>
            {t(`options.kind.${o.value}`)}
          </option>
        ))}
      </select>
      {rule.kind === "trait" ? (
        <div className="ins-rule-line">
          <FilterRow
            filter={{ property: rule.trait, op: rule.op, value: rule.value }}
            subjectLabel={t("fields.trait")}
            subjectList={TRAITS_DATALIST}
            disabled={disabled}
            onChange={(f) => set({ trait: f.property ?? "", op: f.op, value: f.value })}
          />
        </div>
      ) : null}
      {rule.kind === "event" ? (
        <>
          <div className="ins-rule-line">
            <select aria-label={t("fields.check")} disabled={disabled} value={rule.check ?? "did"} onChange={(e) => set({ check: e.target.value })}>
              <option value="did">{t("options.check.did")}</option>
              <option value="did_not">{t("options.check.did_not")}</option>
            </select>
            {eventInput}
          </div>
          <Within optional value={rule.within} onChange={(within) => set({ within })} disabled={disabled} />
          {filters}
        </>
      ) : null}
      {rule.kind === "event_count" ? (
        <>
          <div className="ins-rule-line">
            <span>{t("condition.countOf")}</span>
            {eventInput}
          </div>
          <div className="ins-rule-line">
            <select aria-label={t("fields.op")} disabled={disabled} value={rule.op ?? "gte"} onChange={(e) => set({ op: e.target.value })}>
              {countOps.map((o) => (
                <option key={o} value={o}>
                  {t(`options.op.${o}`)}
                </option>
              ))}
            </select>
            <DraftInput aria-label={t("fields.value")} className="num" type="number" min={0} step={1} disabled={disabled} value={rule.value} parse={parseNumber} onValue={(v) => set({ value: v })} />
          </div>
          <Within optional value={rule.within} onChange={(within) => set({ within })} disabled={disabled} />
          {filters}
        </>
      ) : null}
      {rule.kind === "last_seen" ? (
        <>
          <div className="ins-rule-line">
            <span>{t("condition.lastTime")}</span>
            {eventInput}
          </div>
          <div className="ins-rule-line">
            <select aria-label={t("fields.op")} disabled={disabled} value={rule.op ?? "within"} onChange={(e) => set({ op: e.target.value })}>
              <option value="within">{t("options.op.within")}</option>
              <option value="not_within">{t("options.op.not_within")}</option>
            </select>
            <DurationInput value={rule.within} onChange={(within) => set({ within })} disabled={disabled} />
          </div>
          {filters}
        </>
      ) : null}
      {rule.kind === "message" ? (
        <div className="ins-rule-line">
          <select aria-label={t("fields.nodeId")} disabled={disabled} value={rule.nodeId ?? ""} onChange={(e) => set({ nodeId: e.target.value })}>
            <option value="">{messageNodes.length ? t("condition.pickMessage") : t("condition.noMessageNodes")}</option>
            {messageNodes.map((entry) => {
              const [nodeId, label] = entry.split("\u001f");
              return (
                <option key={nodeId} value={nodeId}>
                  {label} ({nodeId})
                </option>
              );
            })}
          </select>
          <select aria-label={t("fields.check")} disabled={disabled} value={rule.check ?? "is"} onChange={(e) => set({ check: e.target.value })}>
            <option value="is">{t("options.check.is")}</option>
            <option value="is_not">{t("options.check.is_not")}</option>
          </select>
          <select aria-label={t("fields.state")} disabled={disabled} value={rule.state ?? "delivered"} onChange={(e) => set({ state: e.target.value })}>
            {messageStates.map((s) => (
              <option key={s} value={s}>
                {t(`options.state.${s}`)}
              </option>
            ))}
          </select>
        </div>
      ) : null}
    </div>
  );
}

export function ConditionInspector({ nodeId, definition, config, onChange, readOnly, hints }: InspectorProps) {
  const { t } = useTranslation("canvas");
  const mode = (config as { mode?: string } | null)?.mode;
  const allHints = useMemo(() => ({ ...hints, "branches.*.id": { hidden: true } }), [hints]);
  return (
    <>
      <p className="ins-help">{mode === "branches" ? t("condition.branchesHelp") : t("condition.yesNoHelp")}</p>
      <SchemaForm schema={definition.config} value={config} onChange={(next, field) => onChange(withBranchIds(next), field)} disabled={readOnly} hints={allHints} idPrefix={nodeId} />
    </>
  );
}
