import { useId } from "react";
import { useTranslation } from "react-i18next";
import { durationUnits, type Duration } from "../../nodes/duration";
import { filterOps, type FilterOp, type FilterValue, type PropertyFilter } from "../../nodes/filters";
import {
  MAX_DEPTH,
  messageChannels,
  messageStates,
  ruleKinds,
  type EventCountRule,
  type EventRule,
  type EventValueRule,
  type LastEventRule,
  type LeafRule, type Rule, type RuleGroup, type RuleKind } from "./rules";

/**
 * The segment rule builder: AND/OR groups (with NOT) of rules, nested up to MAX_DEPTH. Purely
 * controlled: the page owns the definition, validates it with segmentDefinitionSchema and
 * previews the audience count.
 */

export interface Vocabulary {
  events: string[];
  traits: string[];
  tags: string[];
}

const thirtyDays: Duration = { amount: 30, unit: "days" };
const sevenDays: Duration = { amount: 7, unit: "days" };

export function defaultRule(kind: RuleKind): LeafRule {
  switch (kind) {
    case "trait":
      return { kind, trait: "", op: "eq", value: "" };
    case "trait_date":
      return { kind, trait: "", op: "within_next", within: sevenDays };
    case "tag":
      return { kind, op: "has", tag: "" };
    case "event":
      return { kind, event: "", filters: [], check: "did", within: thirtyDays };
    case "event_count":
      return { kind, event: "", filters: [], op: "gte", value: 1, within: thirtyDays };
    case "event_value":
      return { kind, event: "", filters: [], property: "amount", aggregate: "sum", op: "gte", value: 0, within: thirtyDays };
    case "last_event":
      return { kind, event: "", filters: [], op: "within", within: thirtyDays };
    case "last_seen":
      return { kind, op: "within", within: sevenDays };
    case "first_seen":
      return { kind, op: "within", within: sevenDays };
    case "message":
      return { kind, check: "did", state: "opened", within: thirtyDays };
  }
}

/** "25" → 25, "true" → true, anything else stays text. */
function typed(text: string): string | number | boolean {
  const trimmed = text.trim();
  if (trimmed === "true" || trimmed === "false") return trimmed === "true";
  if (trimmed !== "" && /^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  return text;
}

function valueText(value: FilterValue | undefined): string {
  if (value === undefined) return "";
  return Array.isArray(value) ? value.join(", ") : String(value);
}

function parseValue(op: FilterOp, text: string): FilterValue | undefined {
  if (op === "exists" || op === "not_exists") return undefined;
  if (op === "in" || op === "not_in") return text.split(/[,，]/).map((t) => t.trim()).filter(Boolean).map(typed);
  return typed(text);
}

function DurationInput({ value, onChange }: { value: Duration; onChange: (d: Duration) => void }) {
  const { t } = useTranslation("data");
  return (
    <span className="data-inline">
      <input
        type="number"
        min={1}
        className="data-num"
        value={value.amount}
        onChange={(e) => onChange({ ...value, amount: Math.max(1, Math.floor(Number(e.target.value) || 1)) })}
        aria-label={t("builder.inLast")}
      />
      <select value={value.unit} onChange={(e) => onChange({ ...value, unit: e.target.value as Duration["unit"] })} aria-label={t("builder.units.days")}>
        {durationUnits.map((u) => (
          <option key={u} value={u}>
            {t(`builder.units.${u}`)}
          </option>
        ))}
      </select>
    </span>
  );
}

/** "any time" or "in the last N units", for rules whose window is optional. */
function OptionalWindow({ value, onChange }: { value: Duration | undefined; onChange: (d: Duration | undefined) => void }) {
  const { t } = useTranslation("data");
  return (
    <span className="data-inline">
      <select value={value ? "window" : "any"} onChange={(e) => onChange(e.target.value === "any" ? undefined : thirtyDays)} aria-label={t("builder.anyTime")}>
        <option value="any">{t("builder.anyTime")}</option>
        <option value="window">{t("builder.inLast")}</option>
      </select>
      {value ? <DurationInput value={value} onChange={onChange} /> : null}
    </span>
  );
}

function OpSelect<T extends string>({ ops, value, onChange, label }: { ops: readonly T[]; value: T; onChange: (op: T) => void; label: string }) {
  const { t } = useTranslation("data");
  return (
    <select value={value} onChange={(e) => onChange(e.target.value as T)} aria-label={label}>
      {ops.map((op) => (
        <option key={op} value={op}>
          {t(`builder.ops.${op}`)}
        </option>
      ))}
    </select>
  );
}

function Suggest({ value, onChange, options, placeholder, testId }: { value: string; onChange: (v: string) => void; options: string[]; placeholder: string; testId?: string }) {
  const id = useId();
  return (
    <>
      <input value={value} onChange={(e) => onChange(e.target.value)} list={id} placeholder={placeholder} aria-label={placeholder} data-testid={testId} />
      <datalist id={id}>
        {options.map((o) => (
          <option key={o} value={o} />
        ))}
      </datalist>
    </>
  );
}

function Filters({ filters, onChange }: { filters: PropertyFilter[]; onChange: (f: PropertyFilter[]) => void }) {
  const { t } = useTranslation("data");
  return (
    <div className="data-filters">
      {filters.map((f, i) => (
        <span key={i} className="data-inline data-filter">
          <input value={f.property} placeholder={t("builder.property")} aria-label={t("builder.property")} onChange={(e) => onChange(filters.map((x, j) => (j === i ? { ...x, property: e.target.value } : x)))} />
          <OpSelect ops={filterOps} value={f.op} label={t("builder.property")} onChange={(op) => onChange(filters.map((x, j) => (j === i ? { ...x, op, value: parseValue(op, valueText(x.value)) } : x)))} />
          {f.op !== "exists" && f.op !== "not_exists" ? (
            <input
              value={valueText(f.value)}
              placeholder={f.op === "in" || f.op === "not_in" ? t("builder.listHint") : t("builder.value")}
              aria-label={t("builder.value")}
              onChange={(e) => onChange(filters.map((x, j) => (j === i ? { ...x, value: parseValue(x.op, e.target.value) } : x)))}
            />
          ) : null}
          <button type="button" className="link danger" onClick={() => onChange(filters.filter((_, j) => j !== i))} aria-label={t("builder.remove")}>
            ×
          </button>
        </span>
      ))}
      <button type="button" className="link" onClick={() => onChange([...filters, { property: "", op: "eq", value: "" }])}>
        {t("builder.addFilter")}
      </button>
    </div>
  );
}

const comparisons = ["gt", "gte", "eq", "lte", "lt"] as const;

function LeafEditor({ rule, onChange, vocabulary }: { rule: LeafRule; onChange: (r: LeafRule) => void; vocabulary: Vocabulary }) {
  const { t } = useTranslation("data");
  const eventInput = (r: EventRule | EventCountRule | EventValueRule | LastEventRule) => (
    <Suggest value={r.event} onChange={(event) => onChange({ ...r, event })} options={vocabulary.events} placeholder={t("builder.event")} testId="rule-event" />
  );
  switch (rule.kind) {
    case "trait":
      return (
        <>
          <Suggest value={rule.trait} onChange={(trait) => onChange({ ...rule, trait })} options={vocabulary.traits} placeholder={t("builder.trait")} testId="rule-trait" />
          <OpSelect ops={filterOps} value={rule.op} label={t("builder.trait")} onChange={(op) => onChange({ ...rule, op, value: parseValue(op, valueText(rule.value)) })} />
          {rule.op !== "exists" && rule.op !== "not_exists" ? (
            <input
              value={valueText(rule.value)}
              placeholder={rule.op === "in" || rule.op === "not_in" ? t("builder.listHint") : t("builder.value")}
              aria-label={t("builder.value")}
              data-testid="rule-value"
              onChange={(e) => onChange({ ...rule, value: parseValue(rule.op, e.target.value) })}
            />
          ) : null}
        </>
      );
    case "trait_date": {
      const absolute = rule.op === "before" || rule.op === "after";
      return (
        <>
          <Suggest value={rule.trait} onChange={(trait) => onChange({ ...rule, trait })} options={vocabulary.traits} placeholder={t("builder.trait")} />
          <OpSelect
            ops={["within_last", "within_next", "more_than_ago", "more_than_ahead", "before", "after"] as const}
            value={rule.op}
            label={t("builder.trait")}
            onChange={(op) =>
              onChange(
                op === "before" || op === "after"
                  ? { kind: "trait_date", trait: rule.trait, op, date: rule.date ?? new Date().toISOString() }
                  : { kind: "trait_date", trait: rule.trait, op, within: rule.within ?? sevenDays },
              )
            }
          />
          {absolute ? (
            <input
              type="datetime-local"
              value={rule.date ? rule.date.slice(0, 16) : ""}
              aria-label={t("builder.value")}
              onChange={(e) => onChange({ ...rule, date: e.target.value ? new Date(e.target.value).toISOString() : rule.date })}
            />
          ) : (
            <DurationInput value={rule.within ?? sevenDays} onChange={(within) => onChange({ ...rule, within })} />
          )}
        </>
      );
    }
    case "tag":
      return (
        <>
          <OpSelect ops={["has", "has_not"] as const} value={rule.op} label={t("builder.tag")} onChange={(op) => onChange({ ...rule, op })} />
          <Suggest value={rule.tag} onChange={(tag) => onChange({ ...rule, tag })} options={vocabulary.tags} placeholder={t("builder.tag")} testId="rule-tag" />
        </>
      );
    case "event":
      return (
        <>
          <OpSelect ops={["did", "did_not"] as const} value={rule.check} label={t("builder.event")} onChange={(check) => onChange({ ...rule, check })} />
          {eventInput(rule)}
          <OptionalWindow value={rule.within} onChange={(within) => onChange({ ...rule, within })} />
          <Filters filters={rule.filters} onChange={(filters) => onChange({ ...rule, filters })} />
        </>
      );
    case "event_count":
      return (
        <>
          {eventInput(rule)}
          <OpSelect ops={comparisons} value={rule.op} label={t("builder.value")} onChange={(op) => onChange({ ...rule, op })} />
          <input type="number" min={0} className="data-num" value={rule.value} aria-label={t("builder.value")} onChange={(e) => onChange({ ...rule, value: Math.max(0, Math.floor(Number(e.target.value) || 0)) })} />
          <span>{t("builder.times")}</span>
          <OptionalWindow value={rule.within} onChange={(within) => onChange({ ...rule, within })} />
          <Filters filters={rule.filters} onChange={(filters) => onChange({ ...rule, filters })} />
        </>
      );
    case "event_value":
      return (
        <>
          <select value={rule.aggregate} onChange={(e) => onChange({ ...rule, aggregate: e.target.value as typeof rule.aggregate })} aria-label={t("builder.aggregates.sum")}>
            {(["sum", "avg", "min", "max"] as const).map((a) => (
              <option key={a} value={a}>
                {t(`builder.aggregates.${a}`)}
              </option>
            ))}
          </select>
          {eventInput(rule)}
          <input value={rule.property} placeholder={t("builder.property")} aria-label={t("builder.property")} onChange={(e) => onChange({ ...rule, property: e.target.value })} />
          <OpSelect ops={comparisons} value={rule.op} label={t("builder.value")} onChange={(op) => onChange({ ...rule, op })} />
          <input type="number" className="data-num" value={rule.value} aria-label={t("builder.value")} onChange={(e) => onChange({ ...rule, value: Number(e.target.value) || 0 })} />
          <OptionalWindow value={rule.within} onChange={(within) => onChange({ ...rule, within })} />
          <Filters filters={rule.filters} onChange={(filters) => onChange({ ...rule, filters })} />
        </>
      );
    case "last_event":
      return (
        <>
          {eventInput(rule)}
          <OpSelect ops={["within", "not_within"] as const} value={rule.op} label={t("builder.event")} onChange={(op) => onChange({ ...rule, op })} />
          <DurationInput value={rule.within} onChange={(within) => onChange({ ...rule, within })} />
          <Filters filters={rule.filters} onChange={(filters) => onChange({ ...rule, filters })} />
        </>
      );
    case "last_seen":
    case "first_seen":
      return (
        <>
          <OpSelect ops={["within", "not_within"] as const} value={rule.op} label={t(`builder.kinds.${rule.kind}`)} onChange={(op) => onChange({ ...rule, op })} />
          <DurationInput value={rule.within} onChange={(within) => onChange({ ...rule, within })} />
        </>
      );
    case "message":
      return (
        <>
          <select value={rule.check} onChange={(e) => onChange({ ...rule, check: e.target.value as "did" })} aria-label={t("builder.had")}>
            <option value="did">{t("builder.had")}</option>
            <option value="did_not">{t("builder.hadNot")}</option>
          </select>
          <select value={rule.channel ?? ""} onChange={(e) => onChange({ ...rule, channel: (e.target.value || undefined) as typeof rule.channel })} aria-label={t("builder.channels.any")}>
            <option value="">{t("builder.channels.any")}</option>
            {messageChannels.map((c) => (
              <option key={c} value={c}>
                {t(`builder.channels.${c}`)}
              </option>
            ))}
          </select>
          <select value={rule.state} onChange={(e) => onChange({ ...rule, state: e.target.value as typeof rule.state })} aria-label={t("builder.states.sent")}>
            {messageStates.map((s) => (
              <option key={s} value={s}>
                {t(`builder.states.${s}`)}
              </option>
            ))}
          </select>
          <OptionalWindow value={rule.within} onChange={(within) => onChange({ ...rule, within })} />
        </>
      );
  }
}

function RuleRow({ rule, onChange, onRemove, vocabulary, depth }: { rule: Rule; onChange: (r: Rule) => void; onRemove: () => void; vocabulary: Vocabulary; depth: number }) {
  const { t } = useTranslation("data");
  if (rule.kind === "group") return <GroupEditor group={rule} onChange={onChange} onRemove={onRemove} vocabulary={vocabulary} depth={depth} />;
  return (
    <div className="data-rule" data-testid="rule">
      <select value={rule.kind} onChange={(e) => onChange(defaultRule(e.target.value as RuleKind))} aria-label={t("builder.addRule")} data-testid="rule-kind">
        {ruleKinds.map((k) => (
          <option key={k} value={k}>
            {t(`builder.kinds.${k}`)}
          </option>
        ))}
      </select>
      <LeafEditor rule={rule} onChange={onChange} vocabulary={vocabulary} />
      <button type="button" className="link danger data-push-right" onClick={onRemove}>
        {t("builder.remove")}
      </button>
    </div>
  );
}

export function GroupEditor({
  group,
  onChange,
  onRemove,
  vocabulary,
  depth = 1,
}: {
  group: RuleGroup;
  onChange: (g: RuleGroup) => void;
  onRemove?: () => void;
  vocabulary: Vocabulary;
  depth?: number;
}) {
  const { t } = useTranslation("data");
  const set = (rules: Rule[]) => onChange({ ...group, rules });
  return (
    <div className={`data-group data-group-${group.match}${group.negate ? " data-group-not" : ""}`} data-testid="rule-group">
      <div className="data-group-head">
        <label className="data-check">
          <input type="checkbox" checked={Boolean(group.negate)} onChange={(e) => onChange({ ...group, negate: e.target.checked || undefined })} />
          {t("builder.not")}
        </label>
        <select value={group.match} onChange={(e) => onChange({ ...group, match: e.target.value as "all" | "any" })} aria-label={t("builder.all")} data-testid="group-match">
          <option value="all">{t("builder.all")}</option>
          <option value="any">{t("builder.any")}</option>
        </select>
        {onRemove ? (
          <button type="button" className="link danger data-push-right" onClick={onRemove}>
            {t("builder.remove")}
          </button>
        ) : null}
      </div>
      {group.rules.length === 0 && depth === 1 ? <p className="muted">{t("builder.everyone")}</p> : null}
      {group.rules.map((rule, i) => (
        <RuleRow
          key={i}
          rule={rule}
          depth={depth + 1}
          vocabulary={vocabulary}
          onChange={(r) => set(group.rules.map((x, j) => (j === i ? r : x)))}
          onRemove={() => set(group.rules.filter((_, j) => j !== i))}
        />
      ))}
      <div className="data-group-actions">
        <button type="button" onClick={() => set([...group.rules, defaultRule("trait")])} data-testid="add-rule">
          {t("builder.addRule")}
        </button>
        {depth < MAX_DEPTH ? (
          <button type="button" onClick={() => set([...group.rules, { kind: "group", match: group.match === "all" ? "any" : "all", rules: [defaultRule("trait")] }])}>
            {t("builder.addGroup")}
          </button>
        ) : null}
      </div>
    </div>
  );
}
