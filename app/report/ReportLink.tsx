import { useTranslation } from "react-i18next";

/** The journey editor's link to the journey report (shown once a version is published: only then are there numbers). */
export function ReportLink({ journeyId }: { journeyId: string }) {
  const { t } = useTranslation("report");
  return (
    <a href={`/journeys/${journeyId}/report`} className="wp-badge version" data-testid="journey-report-link">
      📊 {t("link")}
    </a>
  );
}
