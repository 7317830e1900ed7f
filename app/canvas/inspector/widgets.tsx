import { useTranslation } from "react-i18next";
import { durationUnits, type Duration, type DurationUnit } from "../../../nodes/duration";
import { weekdayNames } from "../../../nodes/fields";
import { filterOps, type FilterOp, type PropertyFilter } from "../../../nodes/filters";
import { useLocale } from "../locale";
import { DraftInput, formatScalar, parseNumber, parseScalar, useDraftText } from "./inputs";
import type { FieldEditorProps } from "./registry";

/** Shared editors for the building blocks every core node uses. */

export const EVENTS_DATALIST = "wp-events";
export const TRAITS_DATALIST = "wp-traits";
export const SEGMENTS_DATALIST = "wp-segments";

export function DurationField({ id, value, onChange, disabled, invalid }: FieldEditorProps) {
  return <DurationInput id={id} value={value as Partial<Duration> | undefined} onChange={onChange} disabled={disabled} invalid={invalid} />;
}

export function DurationInput({ id, value, onChange, disabled, invalid = false }: { id?: string; value: Partial<Duration> | undefined; onChange(value: Partial<Duration>): void; disabled: boolean; invalid?: boolean }) {
  const { t } = useTranslation("canvas");
  const duration = (value ?? {}) as Partial<Duration>;
  return (
    <span className="ins-inline">
      <DraftInput
        id={id}
        type="number"
        min={1}
        step={1}
        className="num"
        aria-label={t("fields.amount")}
        aria-invalid={invalid || undefined}
        disabled={disabled}
        value={duration.amount}
        parse={parseNumber}
        onValue={(amount) => onChange({ ...duration, amount: amount as number | undefined })}
      />
      <select aria-label={t("fields.unit")} disabled={disabled} value={duration.unit ?? "days"} onChange={(e) => onChange({ ...duration, unit: e.target.value as DurationUnit })}>
        {durationUnits.map((u) => (
          <option key={u} value={u}>
            {t(`options.unit.${u}`)}
          </option>
        ))}
      </select>
    </span>
  );
}

const unitMs: Record<DurationUnit, number> = { minutes: 60_000, hours: 3_600_000, days: 86_400_000, weeks: 604_800_000 };

/** The largest unit that divides the span evenly: 172800000 ms reads as "2 days". */
function splitMs(ms: number): { amount: number; unit: DurationUnit } {
  for (const unit of ["weeks", "days", "hours", "minutes"] as const) {
    if (ms >= unitMs[unit] && ms % unitMs[unit] === 0) return { amount: ms / unitMs[unit], unit };
  }
  return { amount: Math.max(1, Math.round(ms / 60_000)), unit: "minutes" };
}

/** Settings stored in milliseconds (cooldown, goal window, delivery timeout) edited as amount + unit. */
export function DurationMsField({ id, value, onChange, disabled, invalid }: FieldEditorProps) {
  const { t } = useTranslation("canvas");
  const current = typeof value === "number" && value > 0 ? splitMs(value) : { amount: undefined, unit: "hours" as DurationUnit };
  return (
    <span className="ins-inline">
      <DraftInput
        id={id}
        type="number"
        min={1}
        step={1}
        className="num"
        aria-label={t("fields.amount")}
        aria-invalid={invalid || undefined}
        disabled={disabled}
        value={current.amount}
        parse={parseNumber}
        onValue={(amount) => onChange(typeof amount === "number" && amount > 0 ? Math.round(amount * unitMs[current.unit]) : undefined)}
      />
      <select
        aria-label={t("fields.unit")}
        disabled={disabled}
        value={current.unit}
        onChange={(e) => current.amount !== undefined && onChange(current.amount * unitMs[e.target.value as DurationUnit])}
      >
        {durationUnits.map((u) => (
          <option key={u} value={u}>
            {t(`options.unit.${u}`)}
          </option>
        ))}
      </select>
    </span>
  );
}

/** ISO weekdays as seven toggles; none pressed means every day. */
export function WeekdaysField({ id, value, onChange, disabled }: FieldEditorProps) {
  const { t } = useTranslation("canvas");
  const locale = useLocale();
  const days = Array.isArray(value) ? (value as number[]) : [];
  return (
    <span className="ins-weekdays" role="group" id={id} aria-label={t("fields.weekdays")}>
      {weekdayNames[locale].map((name, i) => {
        const day = i + 1;
        const on = days.includes(day);
        return (
          <button
            key={day}
            type="button"
            aria-pressed={on}
            disabled={disabled}
            onClick={() => onChange(on ? days.filter((d) => d !== day) : [...days, day].sort((a, b) => a - b))}
          >
            {name}
          </button>
        );
      })}
      <span className="muted">{days.length === 0 ? t("inspector.everyDay") : null}</span>
    </span>
  );
}

export function TimeField({ id, value, onChange, disabled, invalid }: FieldEditorProps) {
  return <input id={id} type="time" disabled={disabled} aria-invalid={invalid || undefined} value={typeof value === "string" ? value : ""} onChange={(e) => onChange(e.target.value)} />;
}

export function DateField({ id, value, onChange, disabled, invalid }: FieldEditorProps) {
  return <input id={id} type="date" disabled={disabled} aria-invalid={invalid || undefined} value={typeof value === "string" ? value : ""} onChange={(e) => onChange(e.target.value)} />;
}

/** A list of local times ("11:00 or 17:00"). */
export function TimesField({ id, value, onChange, disabled }: FieldEditorProps) {
  const { t } = useTranslation("canvas");
  const times = Array.isArray(value) ? (value as string[]) : [];
  return (
    <span className="ins-times" id={id}>
      {times.map((time, i) => (
        <span key={i} className="ins-chip">
          <input
            type="time"
            aria-label={t("inspector.timeN", { n: i + 1 })}
            disabled={disabled}
            value={time}
            onChange={(e) => onChange(times.map((x, j) => (j === i ? e.target.value : x)))}
          />
          <button type="button" className="icon danger" disabled={disabled} aria-label={t("inspector.remove", { item: time || t("inspector.timeN", { n: i + 1 }) })} onClick={() => onChange(times.filter((_, j) => j !== i))}>
            ×
          </button>
        </span>
      ))}
      <button type="button" className="ins-add" disabled={disabled} onClick={() => onChange([...times, times.length ? "17:00" : "11:00"])}>
        + {t("inspector.addTime")}
      </button>
    </span>
  );
}

const valueless: FilterOp[] = ["exists", "not_exists"];
const listOps: FilterOp[] = ["in", "not_in"];

/** One filter row: property · operator · value, with the value shaped by the operator. */
export function FilterRow({
  filter,
  onChange,
  disabled,
  subjectLabel,
  subjectList,
  ops = filterOps,
}: {
  filter: Partial<PropertyFilter>;
  onChange(filter: Partial<PropertyFilter>): void;
  disabled: boolean;
  subjectLabel: string;
  subjectList?: string;
  ops?: readonly string[];
}) {
  const { t } = useTranslation("canvas");
  const op = (filter.op ?? "eq") as FilterOp;
  const changeOp = (next: FilterOp) => {
    const rest = { ...filter, op: next };
    if (valueless.includes(next)) delete rest.value;
    else if (listOps.includes(next) && !Array.isArray(filter.value)) rest.value = filter.value === undefined || filter.value === "" ? [] : [filter.value as string];
    else if (!listOps.includes(next) && Array.isArray(filter.value)) rest.value = filter.value[0] ?? "";
    onChange(rest);
  };
  return (
    <>
      <DraftInput className="grow" aria-label={subjectLabel} list={subjectList} disabled={disabled} value={filter.property} onValue={(property) => onChange({ ...filter, property: property as string })} />
      <select aria-label={t("fields.op")} disabled={disabled} value={op} onChange={(e) => changeOp(e.target.value as FilterOp)}>
        {ops.map((o) => (
          <option key={o} value={o}>
            {t(`options.op.${o}`)}
          </option>
        ))}
      </select>
      {valueless.includes(op) ? null : <ValueInput value={filter.value} list={listOps.includes(op)} disabled={disabled} onChange={(value) => onChange({ ...filter, value: value as PropertyFilter["value"] })} />}
    </>
  );
}

function ValueInput({ value, list, disabled, onChange }: { value: unknown; list: boolean; disabled: boolean; onChange(value: unknown): void }) {
  const { t } = useTranslation("canvas");
  const [text, update] = useDraftText(value, formatScalar, (s) => parseScalar(s, ["string", "number", "boolean"], list, false));
  return (
    <input
      aria-label={list ? t("inspector.valuesCommaSeparated") : t("fields.value")}
      placeholder={list ? t("inspector.valuesCommaSeparated") : undefined}
      disabled={disabled}
      value={text}
      onChange={(e) => onChange(update(e.target.value))}
    />
  );
}

/** Event property filters: all must match. */
export function FiltersField({ id, value, onChange, disabled }: FieldEditorProps) {
  return <FiltersInput id={id} value={value} onChange={onChange} disabled={disabled} />;
}

export function FiltersInput({ id, value, onChange, disabled }: { id?: string; value: unknown; onChange(filters: Partial<PropertyFilter>[]): void; disabled: boolean }) {
  const { t } = useTranslation("canvas");
  const filters = Array.isArray(value) ? (value as Partial<PropertyFilter>[]) : [];
  return (
    <div className="ins-filters" id={id}>
      {filters.length === 0 ? <p className="muted ins-help">{t("inspector.noFilters")}</p> : null}
      {filters.map((filter, i) => (
        <div key={i} className="ins-filter-row">
          <FilterRow
            filter={filter}
            disabled={disabled}
            subjectLabel={t("fields.property")}
            onChange={(next) => onChange(filters.map((f, j) => (j === i ? next : f)))}
          />
          <button type="button" className="icon danger" disabled={disabled} aria-label={t("inspector.remove", { item: filter.property || t("inspector.item", { n: i + 1 }) })} onClick={() => onChange(filters.filter((_, j) => j !== i))}>
            ×
          </button>
        </div>
      ))}
      <button type="button" className="ins-add" disabled={disabled} onClick={() => onChange([...filters, { property: "", op: "eq", value: "" }])}>
        + {t("inspector.addFilter")}
      </button>
    </div>
  );
}

/** Zones most of our operators' users live in first, then every IANA zone the browser knows. */
const commonZones = ["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore", "Asia/Tokyo", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "UTC"];

function allZones(): string[] {
  const supported = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return [...commonZones, ...supported.filter((z) => !commonZones.includes(z))];
}

export function TimezoneSelect({ id, value, onChange, disabled, emptyLabel, ariaLabel }: { id?: string; value: string | undefined; onChange(zone: string | undefined): void; disabled?: boolean; emptyLabel?: string; ariaLabel?: string }) {
  const zones = allZones();
  return (
    <select id={id} aria-label={ariaLabel} disabled={disabled} value={value ?? ""} onChange={(e) => onChange(e.target.value || undefined)}>
      {emptyLabel !== undefined ? <option value="">{emptyLabel}</option> : null}
      {value && !zones.includes(value) ? <option value={value}>{value}</option> : null}
      {zones.map((z) => (
        <option key={z} value={z}>
          {z}
        </option>
      ))}
    </select>
  );
}

export function TimezoneField({ id, value, onChange, disabled }: FieldEditorProps) {
  const { t } = useTranslation("canvas");
  return <TimezoneSelect id={id} value={typeof value === "string" ? value : undefined} onChange={onChange} disabled={disabled} emptyLabel={t("inspector.workspaceZone")} />;
}

export function EventNameField({ id, value, onChange, disabled, invalid }: FieldEditorProps) {
  return <DraftInput id={id} list={EVENTS_DATALIST} disabled={disabled} aria-invalid={invalid || undefined} value={value} onValue={onChange} />;
}

export function SegmentKeyField({ id, value, onChange, disabled, invalid }: FieldEditorProps) {
  return <DraftInput id={id} list={SEGMENTS_DATALIST} disabled={disabled} aria-invalid={invalid || undefined} value={value} onValue={onChange} />;
}

export function TraitNameField({ id, value, onChange, disabled, invalid }: FieldEditorProps) {
  return <DraftInput id={id} list={TRAITS_DATALIST} disabled={disabled} aria-invalid={invalid || undefined} value={value} onValue={onChange} />;
}
