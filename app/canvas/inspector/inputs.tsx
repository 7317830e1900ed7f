import { useEffect, useRef, useState, type InputHTMLAttributes, type TextareaHTMLAttributes } from "react";
import type { ScalarType } from "./introspect";

/**
 * Text that is parsed into a value on every keystroke but must not be re-formatted under the
 * cursor ("1." is not yet a number, "a," not yet a list). The text is local; it follows the
 * value from outside only when that value stops matching what the text parses to (undo, paste).
 */
export function useDraftText(value: unknown, format: (value: unknown) => string, parse: (text: string) => unknown) {
  const [text, setText] = useState(() => format(value));
  const parsedRef = useRef<unknown>(value);
  useEffect(() => {
    if (JSON.stringify(parsedRef.current) !== JSON.stringify(value)) {
      parsedRef.current = value;
      setText(format(value));
    }
  }, [value, format]);
  const update = (next: string) => {
    setText(next);
    parsedRef.current = parse(next);
    return parsedRef.current;
  };
  return [text, update] as const;
}

const formatString = (value: unknown) => (value === undefined || value === null ? "" : String(value));

type TextProps = Omit<InputHTMLAttributes<HTMLInputElement>, "value" | "onChange"> & {
  value: unknown;
  onValue(value: unknown): void;
  parse?: (text: string) => unknown;
};

export function DraftInput({ value, onValue, parse = (t) => t, ...rest }: TextProps) {
  const [text, update] = useDraftText(value, formatString, parse);
  return <input {...rest} value={text} onChange={(e) => onValue(update(e.target.value))} />;
}

type AreaProps = Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, "value" | "onChange"> & { value: unknown; onValue(value: unknown): void };

export function DraftTextarea({ value, onValue, ...rest }: AreaProps) {
  const [text, update] = useDraftText(value, formatString, (t) => t);
  return <textarea {...rest} value={text} onChange={(e) => onValue(update(e.target.value))} />;
}

/** Empty means "not set": undefined, so optional numbers disappear and required ones show an error. */
export const parseNumber = (text: string): number | undefined => {
  if (text.trim() === "") return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
};

/** Typed values for filter and trait comparisons: numbers and booleans are recognised. */
export function coerceScalar(text: string, types: readonly ScalarType[], nullable: boolean): unknown {
  const trimmed = text.trim();
  if (nullable && trimmed === "null") return null;
  if (types.includes("number") && /^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  if (types.includes("boolean") && (trimmed === "true" || trimmed === "false")) return trimmed === "true";
  return text;
}

export function formatScalar(value: unknown): string {
  if (Array.isArray(value)) return value.map((v) => String(v)).join(", ");
  return value === undefined ? "" : String(value);
}

/** `list`: "a, b" is a list; `"maybe"`: a list only when the text has a comma. */
export function parseScalar(text: string, types: readonly ScalarType[], list: boolean | "maybe", nullable: boolean): unknown {
  if (list === true || (list === "maybe" && text.includes(","))) {
    return text.split(",").map((part) => coerceScalar(part.trim(), types, nullable)).filter((v) => v !== "");
  }
  return coerceScalar(text, types, nullable);
}
