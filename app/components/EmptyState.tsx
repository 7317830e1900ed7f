import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";

/** What an empty page says: what this is and what to do next. */
export function EmptyState({ area, action }: { area: string; action?: ReactNode }) {
  const { t } = useTranslation();
  return (
    <section className="empty-state" data-testid={`empty-${area}`}>
      <h2>{t(`empty.${area}.title`)}</h2>
      <p>{t(`empty.${area}.body`)}</p>
      {action}
    </section>
  );
}
