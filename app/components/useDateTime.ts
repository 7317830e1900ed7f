import { useRouteLoaderData } from "@remix-run/react";
import { useTranslation } from "react-i18next";
import { formatDateTime } from "../lib/datetime";

/**
 * The shared date-time formatter of operator pages: the one format of app/lib/datetime.ts in the
 * current language and the workspace zone (loaded by the `_app` layout).
 */
export function useDateTime(options: { seconds?: boolean } = {}) {
  const { i18n } = useTranslation();
  const layout = useRouteLoaderData("routes/_app") as { timeZone?: string } | undefined;
  const timeZone = layout?.timeZone ?? null;
  return (value: string | number | Date | null | undefined) => formatDateTime(value, { locale: i18n.language, timeZone, seconds: options.seconds });
}
