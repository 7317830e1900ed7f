import { createContext, useContext, useMemo, type ComponentType, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import type { ZodIssue, ZodTypeAny } from "zod";
import { useLocale } from "../locale";
import { DraftInput, DraftTextarea, formatScalar, parseNumber, parseScalar, useDraftText } from "./inputs";
import {
  describeSchema,
  initialValue,
  isRequired,
  issuesByPath,
  pathKey,
  pathPattern,
  setIn,
  switchVariant,
  variantOf,
  type Field,
  type FieldNode,
  type Path,
} from "./introspect";
import { issueMessage } from "./issues";
import { fieldEditorFor, type FieldEditorProps, type FieldHint } from "./registry";
import { DateField, DurationMsField, EventNameField, SegmentKeyField, TimezoneField, TraitNameField } from "./widgets";

const hintWidgets: Partial<Record<NonNullable<FieldHint["widget"]>, ComponentType<FieldEditorProps>>> = {
  date: DateField,
  durationMs: DurationMsField,
  timezone: TimezoneField,
  event: EventNameField,
  trait: TraitNameField,
  segment: SegmentKeyField,
};

/**
 * The generated inspector: renders any zod schema as a form. Labels come from field hints, then
 * `canvas:fields.<key>`, then the key itself; enum options from `canvas:options.<key>.<value>`.
 */

interface FormContext {
  root: unknown;
  change(path: Path, value: unknown): void;
  issues: Map<string, ZodIssue[]>;
  hints: Record<string, FieldHint>;
  disabled: boolean;
  idPrefix: string;
}

const Ctx = createContext<FormContext | null>(null);

function useForm(): FormContext {
  const ctx = useContext(Ctx);
  if (!ctx) throw new Error("field rendered outside <SchemaForm>");
  return ctx;
}

export interface SchemaFormProps {
  schema: ZodTypeAny;
  value: unknown;
  /** `field` is the changed path, for grouping keystrokes into one undo step. */
  onChange(value: unknown, field: string): void;
  disabled?: boolean;
  hints?: Record<string, FieldHint>;
  idPrefix: string;
  /** Render only these top-level keys (a rich editor handling the rest itself). */
  only?: readonly string[];
  omit?: readonly string[];
}

export function SchemaForm({ schema, value, onChange, disabled = false, hints = {}, idPrefix, only, omit }: SchemaFormProps) {
  const node = useMemo(() => describeSchema(schema), [schema]);
  const issues = useMemo(() => issuesByPath(schema, value), [schema, value]);
  const ctx: FormContext = {
    root: value,
    change: (path, next) => onChange(setIn(value, path, next), pathKey(path)),
    issues,
    hints,
    disabled,
    idPrefix,
  };
  const filter = (key: string) => (!only || only.includes(key)) && !omit?.includes(key);
  return (
    <Ctx.Provider value={ctx}>
      <div className="ins-form">
        <Body node={node} path={[]} value={value} filter={filter} />
        <Issues path={[]} />
      </div>
    </Ctx.Provider>
  );
}

/** The top-level shape without its own label: object fields or a variant picker + fields. */
function Body({ node, path, value, filter = () => true }: { node: FieldNode; path: Path; value: unknown; filter?: (key: string) => boolean }) {
  const { field } = node;
  if (field.kind === "object") return <ObjectFields field={field} path={path} value={value} filter={filter} />;
  if (field.kind === "variant") return <VariantFields field={field} path={path} value={value} filter={filter} />;
  return <FieldRow node={node} path={path} value={value} name="value" />;
}

function ObjectFields({ field, path, value, filter }: { field: Extract<Field, { kind: "object" }>; path: Path; value: unknown; filter: (key: string) => boolean }) {
  const { hints } = useForm();
  const object = (value ?? {}) as Record<string, unknown>;
  return (
    <>
      {field.fields
        .filter((f) => {
          const hint = hints[pathPattern([...path, f.key])];
          return filter(f.key) && f.node.field.kind !== "literal" && !hint?.hidden && (hint?.when?.(object) ?? true);
        })
        .map((f) => (
          <FieldRow key={f.key} node={f.node} path={[...path, f.key]} value={object[f.key]} name={f.key} />
        ))}
    </>
  );
}

function VariantFields({ field, path, value, filter }: { field: Extract<Field, { kind: "variant" }>; path: Path; value: unknown; filter: (key: string) => boolean }) {
  const { change, disabled, idPrefix } = useForm();
  const label = useLabel();
  const optionLabel = useOptionLabel();
  const current = variantOf(field, value);
  const id = fieldId(idPrefix, [...path, field.discriminator]);
  return (
    <>
      {filter(field.discriminator) ? (
        <div className="ins-field">
          <label htmlFor={id}>{label([...path, field.discriminator], field.discriminator)}</label>
          <select id={id} disabled={disabled} value={current?.value ?? ""} onChange={(e) => change(path, switchVariant(field, value, e.target.value))}>
            {current ? null : <option value="">—</option>}
            {field.options.map((o) => (
              <option key={o.value} value={o.value}>
                {optionLabel(field.discriminator, o.value)}
              </option>
            ))}
          </select>
          <Issues path={[...path, field.discriminator]} />
        </div>
      ) : null}
      {current?.node.field.kind === "object" ? <ObjectFields field={current.node.field} path={path} value={value} filter={filter} /> : null}
    </>
  );
}

function fieldId(prefix: string, path: Path): string {
  return `${prefix}-${path.join("-") || "root"}`.replace(/[^a-zA-Z0-9_-]/g, "_");
}

export function useLabel() {
  const { t, i18n } = useTranslation("canvas");
  const locale = useLocale();
  const { hints } = useForm();
  return (path: Path, key: string | number): string => {
    const hint = hints[pathPattern(path)];
    if (hint?.label) return hint.label[locale];
    if (hint?.labelKey) return t(hint.labelKey);
    if (typeof key === "number") {
      // "Rule 2", "Branch 1": named after the list when the list's name is known.
      const list = path.slice(0, -1).filter((p): p is string => typeof p === "string").pop();
      return list && i18n.exists(`canvas:items.${list}`) ? t(`items.${list}`, { n: key + 1 }) : t("inspector.item", { n: key + 1 });
    }
    if (i18n.exists(`canvas:fields.${key}`)) return t(`fields.${key}`);
    return key.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/[_-]+/g, " ").replace(/^./, (c) => c.toUpperCase());
  };
}

/** Generic help by field name (`canvas:help.<key>`), for fields every node type shares. */
function useHelp() {
  const { t, i18n } = useTranslation("canvas");
  return (path: Path) => {
    const key = path.filter((p) => typeof p === "string").pop();
    return key && i18n.exists(`canvas:help.${key}`) ? t(`help.${key}`) : undefined;
  };
}

export function useOptionLabel() {
  const { t, i18n } = useTranslation("canvas");
  return (key: string, value: string) => (i18n.exists(`canvas:options.${key}.${value}`) ? t(`options.${key}.${value}`) : value);
}

function Issues({ path, id }: { path: Path; id?: string }) {
  const { issues } = useForm();
  const { t } = useTranslation();
  const list = issues.get(pathKey(path));
  if (!list?.length) return null;
  return (
    <ul className="ins-issues" id={id}>
      {list.map((issue, i) => (
        <li key={i}>{issueMessage(issue, t)}</li>
      ))}
    </ul>
  );
}

/** Issues anywhere under a path: whether a group should look invalid. */
function hasIssuesUnder(issues: Map<string, ZodIssue[]>, path: Path): boolean {
  const key = pathKey(path);
  for (const k of issues.keys()) if (k === key || k.startsWith(`${key}.`)) return true;
  return false;
}

function FieldRow({ node, path, value, name }: { node: FieldNode; path: Path; value: unknown; name: string | number }) {
  const ctx = useForm();
  const label = useLabel();
  const helpText = useHelp();
  const locale = useLocale();
  const id = fieldId(ctx.idPrefix, path);
  const hint = ctx.hints[pathPattern(path)];
  const help = hint?.help?.[locale] ?? helpText(path) ?? node.description;
  const text = label(path, name);
  const required = isRequired(node);
  const invalid = ctx.issues.has(pathKey(path));
  const Custom = (hint?.widget && hintWidgets[hint.widget]) || fieldEditorFor(node);
  const issuesId = `${id}-issues`;

  if (!Custom && (node.field.kind === "object" || node.field.kind === "variant" || node.field.kind === "array" || node.field.kind === "record")) {
    return (
      <fieldset className={`ins-group${hasIssuesUnder(ctx.issues, path) ? " has-issues" : ""}`} data-path={pathKey(path)}>
        <legend>
          {text}
          {node.optional ? <OptionalToggle node={node} path={path} value={value} /> : null}
        </legend>
        {help ? <p className="ins-help">{help}</p> : null}
        {node.optional && value === undefined ? null : <Compound node={node} path={path} value={value} />}
        <Issues path={path} />
      </fieldset>
    );
  }

  const editor: ReactNode = Custom ? (
    <Custom id={id} value={value} onChange={(v) => ctx.change(path, v)} node={node} path={path} disabled={ctx.disabled} invalid={invalid} />
  ) : (
    <Leaf node={node} path={path} value={value} id={id} invalid={invalid} describedBy={invalid ? issuesId : undefined} placeholder={hint?.placeholder?.[locale]} widget={hint?.widget} />
  );
  if (node.field.kind === "boolean" && !Custom) {
    return (
      <div className="ins-field ins-check" data-path={pathKey(path)}>
        <label htmlFor={id}>
          {editor}
          {text}
        </label>
        {help ? <p className="ins-help">{help}</p> : null}
        <Issues path={path} id={issuesId} />
      </div>
    );
  }
  return (
    <div className={`ins-field${invalid ? " has-issues" : ""}`} data-path={pathKey(path)}>
      {/* The required mark is drawn by CSS so it is not part of the field's accessible name. */}
      <label htmlFor={id} className={required ? "required" : undefined}>
        {text}
      </label>
      {editor}
      {help ? <p className="ins-help">{help}</p> : null}
      <Issues path={path} id={issuesId} />
    </div>
  );
}

/** Optional groups (a goal, a window) start absent; a checkbox adds or removes them. */
function OptionalToggle({ node, path, value }: { node: FieldNode; path: Path; value: unknown }) {
  const { change, disabled } = useForm();
  const { t } = useTranslation("canvas");
  const on = value !== undefined;
  return (
    <label className="ins-toggle">
      <input
        type="checkbox"
        checked={on}
        disabled={disabled}
        onChange={() => change(path, on ? undefined : initialValue({ ...node, optional: false }))}
      />
      {t("inspector.enabled")}
    </label>
  );
}

function Compound({ node, path, value }: { node: FieldNode; path: Path; value: unknown }) {
  const { field } = node;
  if (field.kind === "object" || field.kind === "variant") return <Body node={node} path={path} value={value} />;
  if (field.kind === "array") return <ListEditor field={field} path={path} value={value} />;
  if (field.kind === "record") return <RecordEditor field={field} path={path} value={value} />;
  return null;
}

function ListEditor({ field, path, value }: { field: Extract<Field, { kind: "array" }>; path: Path; value: unknown }) {
  const { change, disabled } = useForm();
  const { t } = useTranslation("canvas");
  const label = useLabel();
  const items = Array.isArray(value) ? value : [];
  const compound = ["object", "variant", "array", "record"].includes(field.item.field.kind);
  const custom = fieldEditorFor(field.item);
  const move = (from: number, to: number) => {
    const next = [...items];
    const [item] = next.splice(from, 1);
    next.splice(to, 0, item);
    change(path, next);
  };
  const full = field.maxItems !== undefined && items.length >= field.maxItems;
  return (
    <div className="ins-list">
      {items.map((item, i) => {
        const itemLabel = label([...path, i], i);
        const controls = (
          <span className="ins-item-controls">
            <button type="button" className="icon" disabled={disabled || i === 0} aria-label={t("inspector.moveUp", { item: itemLabel })} onClick={() => move(i, i - 1)}>
              ↑
            </button>
            <button type="button" className="icon" disabled={disabled || i === items.length - 1} aria-label={t("inspector.moveDown", { item: itemLabel })} onClick={() => move(i, i + 1)}>
              ↓
            </button>
            <button type="button" className="icon danger" disabled={disabled} aria-label={t("inspector.remove", { item: itemLabel })} onClick={() => change(path, items.filter((_, j) => j !== i))}>
              ×
            </button>
          </span>
        );
        return !compound ? (
          <div key={i} className="ins-list-row">
            <FieldRow node={field.item} path={[...path, i]} value={item} name={i} />
            {controls}
          </div>
        ) : (
          <div key={i} className="ins-list-item">
            <div className="ins-list-head">
              <span>{itemLabel}</span>
              {controls}
            </div>
            {custom ? (
              <CustomItem editor={custom} node={field.item} path={[...path, i]} value={item} />
            ) : (
              <Compound node={field.item} path={[...path, i]} value={item} />
            )}
            <Issues path={[...path, i]} />
          </div>
        );
      })}
      <button type="button" className="ins-add" disabled={disabled || full} onClick={() => change(path, [...items, initialValue({ ...field.item, optional: false })])}>
        + {t("inspector.add")}
      </button>
    </div>
  );
}

/** A list item with its own editor (a rule row) still gets the list's header and controls. */
function CustomItem({ editor: Editor, node, path, value }: { editor: ComponentType<FieldEditorProps>; node: FieldNode; path: Path; value: unknown }) {
  const { change, disabled, idPrefix, issues } = useForm();
  return <Editor id={fieldId(idPrefix, path)} value={value} onChange={(v) => change(path, v)} node={node} path={path} disabled={disabled} invalid={hasIssuesUnder(issues, path)} />;
}

function RecordEditor({ field, path, value }: { field: Extract<Field, { kind: "record" }>; path: Path; value: unknown }) {
  const { change, disabled, idPrefix } = useForm();
  const { t } = useTranslation("canvas");
  const entries = Object.entries((value ?? {}) as Record<string, unknown>);
  const rename = (index: number, key: string) =>
    change(path, Object.fromEntries(entries.map(([k, v], i) => (i === index ? [key, v] : [k, v]))));
  const freeKey = () => {
    let n = entries.length + 1;
    while (entries.some(([k]) => k === `key${n}`)) n += 1;
    return `key${n}`;
  };
  return (
    <div className="ins-list">
      {entries.map(([key, item], i) => (
        <div key={i} className="ins-record-row">
          <input
            aria-label={t("inspector.key")}
            id={fieldId(idPrefix, [...path, i, "key"])}
            value={key}
            disabled={disabled}
            onChange={(e) => rename(i, e.target.value)}
          />
          <Leaf node={field.value} path={[...path, key]} value={item} id={fieldId(idPrefix, [...path, key])} invalid={false} ariaLabel={t("inspector.valueFor", { key })} />
          <button type="button" className="icon danger" disabled={disabled} aria-label={t("inspector.remove", { item: key })} onClick={() => change(path, Object.fromEntries(entries.filter((_, j) => j !== i)))}>
            ×
          </button>
        </div>
      ))}
      <button type="button" className="ins-add" disabled={disabled} onClick={() => change(path, { ...(value as object), [freeKey()]: initialValue({ ...field.value, optional: false }) ?? "" })}>
        + {t("inspector.add")}
      </button>
    </div>
  );
}

interface LeafProps {
  node: FieldNode;
  path: Path;
  value: unknown;
  id: string;
  invalid: boolean;
  describedBy?: string;
  placeholder?: string;
  widget?: FieldHint["widget"];
  ariaLabel?: string;
}

/** Single-value editors: text, numbers, choices, plain values, JSON. */
function Leaf({ node, path, value, id, invalid, describedBy, placeholder, widget, ariaLabel }: LeafProps) {
  const { change, disabled } = useForm();
  const optionLabel = useOptionLabel();
  const { t } = useTranslation("canvas");
  const common = { id, disabled, "aria-invalid": invalid || undefined, "aria-describedby": describedBy, "aria-label": ariaLabel, placeholder };
  const set = (next: unknown) => change(path, next);
  const key = String(path.filter((p) => typeof p === "string").pop() ?? "");
  const { field } = node;
  switch (field.kind) {
    case "string": {
      const emptyIsAbsent = node.optional;
      const parse = (text: string) => (text === "" && emptyIsAbsent ? undefined : text);
      if (field.format === "datetime") {
        return <input {...common} type="datetime-local" value={isoToLocal(value)} onChange={(e) => set(e.target.value ? new Date(e.target.value).toISOString() : parse(""))} />;
      }
      if (widget === "textarea") return <DraftTextarea {...common} rows={4} value={value} onValue={set} />;
      return <DraftInput {...common} type={field.format === "url" ? "url" : field.format === "email" ? "email" : "text"} value={value} onValue={set} parse={parse} />;
    }
    case "number":
      return <DraftInput {...common} type="number" inputMode="decimal" min={field.min} max={field.max} step={field.int ? 1 : "any"} value={value} onValue={set} parse={parseNumber} />;
    case "boolean":
      return <input {...common} type="checkbox" checked={value === true} onChange={(e) => set(e.target.checked)} />;
    case "enum":
      return (
        <select {...common} value={value === undefined ? "" : String(value)} onChange={(e) => set(e.target.value === "" ? undefined : e.target.value)}>
          {value === undefined || node.optional ? <option value="">{node.optional ? t("inspector.notSet") : "—"}</option> : null}
          {field.options.map((o) => (
            <option key={o} value={o}>
              {optionLabel(key, o)}
            </option>
          ))}
        </select>
      );
    case "scalar":
      return <ScalarInput common={common} field={field} value={value} onValue={set} />;
    case "literal":
      return <output id={id}>{String(field.value)}</output>;
    default:
      return <JsonInput common={common} value={value} onValue={set} />;
  }
}

type Common = Record<string, unknown>;

function ScalarInput({ common, field, value, onValue }: { common: Common; field: Extract<Field, { kind: "scalar" }>; value: unknown; onValue(v: unknown): void }) {
  const [text, update] = useDraftText(value, formatScalar, (t) => parseScalar(t, field.types, field.list ? "maybe" : false, field.nullable));
  return <input {...common} type="text" value={text} onChange={(e) => onValue(update(e.target.value))} />;
}

function JsonInput({ common, value, onValue }: { common: Common; value: unknown; onValue(v: unknown): void }) {
  const { t } = useTranslation("canvas");
  const format = (v: unknown) => (v === undefined ? "" : JSON.stringify(v, null, 2));
  const [text, update] = useDraftText(value, format, (s) => {
    try {
      return s.trim() === "" ? undefined : JSON.parse(s);
    } catch {
      return value;
    }
  });
  let broken = false;
  try {
    if (text.trim() !== "") JSON.parse(text);
  } catch {
    broken = true;
  }
  return (
    <>
      <textarea {...common} className="mono" rows={4} value={text} onChange={(e) => onValue(update(e.target.value))} />
      {broken ? <p className="ins-issues">{t("inspector.invalidJson")}</p> : null}
    </>
  );
}

function isoToLocal(value: unknown): string {
  if (typeof value !== "string") return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}
