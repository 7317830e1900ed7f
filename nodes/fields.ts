import { z } from "zod";
import { checkTemplate, TEMPLATE_MAX_CHARS } from "./channels/template";

/** Schema building blocks shared by several node configs. */

export const hhmmSchema = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "expected HH:mm (24 h)");

export const isoWeekdaySchema = z.number().int().min(1).max(7);

/** Output port ids chosen by operators (branch names): stable, URL- and SQL-safe. */
export const portIdSchema = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[a-z0-9][a-z0-9_-]*$/i, "letters, digits, - and _ only");

/** Liquid source checked at parse time, so a broken template is a compile error, not a failed send. */
export function templateSchema(options: { required: boolean }) {
  const base = options.required ? z.string().min(1) : z.string();
  return base.superRefine((source, ctx) => {
    // Said before LiquidJS sees it: its own "parse length limit exceeded" names no limit.
    if (source.length > TEMPLATE_MAX_CHARS) {
      const length = source.length.toLocaleString("en-US");
      const max = TEMPLATE_MAX_CHARS.toLocaleString("en-US");
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `is ${length} characters; a template can be at most ${max}`,
        params: { zh: `有 ${length} 个字符；模板最多 ${max} 个字符` },
      });
      return;
    }
    const error = checkTemplate(source);
    if (error) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `template: ${error}`, params: { zh: `模板错误：${error}` } });
  });
}

export const weekdayNames = {
  en: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
  zh: ["周一", "周二", "周三", "周四", "周五", "周六", "周日"],
} as const;

export function formatWeekdays(days: readonly number[], locale: "en" | "zh"): string {
  const sorted = [...days].sort((a, b) => a - b);
  return sorted.map((d) => weekdayNames[locale][d - 1]).join(locale === "zh" ? "、" : ", ");
}
