import { useTranslation } from "react-i18next";

/** Date-time in the operator's language ("2026年6月1日 09:30" / "1 Jun 2026, 09:30"). */
export function useDateTime() {
  const { i18n } = useTranslation();
  const locale = i18n.language === "zh" ? "zh-CN" : "en-GB";
  return (value: string | Date | null | undefined) =>
    value ? new Date(value).toLocaleString(locale, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }) : "—";
}
