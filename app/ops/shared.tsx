import { useTranslation } from "react-i18next";
import { useDateTime } from "../components/useDateTime";

/** Shared bits of the Instances pages (browser-safe: no server imports). */

import type { InstanceView } from "./views";

export function ViewBadge({ view, reason }: { view: InstanceView; reason: string | null }) {
  const { t } = useTranslation("ops");
  return (
    <span className={`ops-badge ops-badge-${view}`} title={reason ? t(`reason.${reason}`, { defaultValue: reason }) : undefined} data-view={view}>
      {t(`view.${view}`)}
    </span>
  );
}

/** "3 min", "2 h": the largest unit that keeps the number readable. */
export function useDuration() {
  const { t } = useTranslation("ops");
  return (ms: number) => {
    if (ms < 1000) return t("duration.ms", { count: Math.round(ms) });
    if (ms < 120_000) return t("duration.s", { count: Math.round(ms / 1000) });
    if (ms < 7_200_000) return t("duration.min", { count: Math.round(ms / 60_000) });
    return t("duration.h", { count: Math.round(ms / 3_600_000) });
  };
}

/** Date-time with seconds (a timeline needs them), in the one shared format with the zone shown. */
export function useTimestamp() {
  return useDateTime({ seconds: true });
}

const KNOWN_ERRORS = new Set(["not_found", "already_finished", "not_waiting", "not_failed", "busy", "not_published", "not_retryable"]);

/** tRPC errors of the operations router carry a code as message; anything else is shown as is. */
export function useOperationError() {
  const { t } = useTranslation("ops");
  return (error: { message: string; data?: { code?: string } | null } | null | undefined) => {
    if (!error) return null;
    if (error.data?.code === "FORBIDDEN") return t("errors.forbidden");
    if (KNOWN_ERRORS.has(error.message)) return t(`errors.${error.message}`);
    return t("errors.generic", { message: error.message });
  };
}
