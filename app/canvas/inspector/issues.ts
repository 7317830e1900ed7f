import type { TFunction } from "i18next";
import type { ZodIssue } from "zod";

/**
 * Zod's issue messages are English sentences. Common issue codes, and the fixed messages our node
 * schemas use, are translated here so the inspector speaks the operator's language; any other
 * custom message is shown as written by the node's author.
 */
const knownMessages: Array<[RegExp, string]> = [
  [/^expected HH:mm \(24 h\)$/, "issues.hhmm"],
  [/^expected YYYY-MM-DD$/, "issues.date"],
  [/^letters, digits, - and _ only$/, "issues.portId"],
  [/^percentages must add up to 100 \(got (?<total>[^)]+)\)$/, "issues.splitTotal"],
  [/^duplicate branch id$/, "issues.duplicateBranch"],
  [/^"else" is reserved$/, "issues.elseReserved"],
  [/^required for the cooldown rule$/, "issues.required"],
  [/^expected a list of values$/, "issues.expectedList"],
  [/^expected a single value$/, "issues.expectedSingle"],
  [/^template: (?<error>.+)$/s, "issues.template"],
];

export function issueMessage(issue: ZodIssue, t: TFunction): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.received === "undefined" || issue.received === "null" ? t("canvas:issues.required") : t("canvas:issues.type", { expected: issue.expected });
    case "too_small":
      if (issue.type === "string") return issue.minimum === 1 ? t("canvas:issues.required") : t("canvas:issues.minLength", { n: issue.minimum });
      if (issue.type === "array") return t("canvas:issues.minItems", { n: issue.minimum });
      return t("canvas:issues.min", { n: issue.minimum });
    case "too_big":
      if (issue.type === "string") return t("canvas:issues.maxLength", { n: issue.maximum });
      if (issue.type === "array") return t("canvas:issues.maxItems", { n: issue.maximum });
      return t("canvas:issues.max", { n: issue.maximum });
    case "invalid_enum_value":
      return t("canvas:issues.enum");
    case "invalid_union_discriminator":
      return t("canvas:issues.variant");
    case "invalid_string":
      if (issue.validation === "datetime") return t("canvas:issues.datetime");
      if (issue.validation === "url") return t("canvas:issues.url");
      if (issue.validation === "email") return t("canvas:issues.email");
      break;
    default:
      break;
  }
  for (const [pattern, key] of knownMessages) {
    const match = pattern.exec(issue.message);
    if (match) return t(`canvas:${key}`, match.groups ?? {});
  }
  return issue.message;
}
