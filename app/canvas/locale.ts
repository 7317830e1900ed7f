import { useTranslation } from "react-i18next";
import type { Locale } from "../../nodes/define";

/** Node definitions speak "en" | "zh"; i18next may report a regional tag such as "zh-CN". */
function toLocale(language: string | undefined): Locale {
  return language?.toLowerCase().startsWith("zh") ? "zh" : "en";
}

export function useLocale(): Locale {
  return toLocale(useTranslation().i18n.language);
}
