import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { waitConfigSchema } from "../../../../nodes/wait/definition";
import { waitUntil } from "../../../../nodes/wait/compute";
import { isValidZone } from "../../../../workflows/time";
import { useLocale } from "../../locale";
import type { InspectorProps } from "../registry";
import { SchemaForm } from "../SchemaForm";
import { TimezoneSelect } from "../widgets";

/**
 * Waits, with the time-zone story spelled out: which zone each mode uses, what happens to users
 * whose zone is missing or invalid, and when the wait would end for a user in a chosen zone.
 */
export function WaitInspector({ nodeId, definition, config, onChange, readOnly, hints, settings, onSettingsChange, workspaceTimezone }: InspectorProps) {
  const { t } = useTranslation("canvas");
  const locale = useLocale();
  const fallbackZone = settings.timezone && isValidZone(settings.timezone) ? settings.timezone : workspaceTimezone;
  const [sampleZone, setSampleZone] = useState(fallbackZone);
  const parsed = waitConfigSchema.safeParse(config);
  const mode = parsed.success ? parsed.data.mode : (config as { mode?: string } | null)?.mode;
  const usesJourneyZone = mode === "calendar_date" && parsed.success && parsed.data.mode === "calendar_date" && parsed.data.zone === "journey";
  const usesUserZone = mode === "time_of_day" || mode === "date_trait" || (mode === "calendar_date" && !usesJourneyZone);

  // Computed once per config/zone: "now" is the moment the operator looked, which is the point.
  const next = useMemo(() => {
    if (!parsed.success || parsed.data.mode === "date_trait") return null;
    const now = Date.now();
    const zone = usesJourneyZone ? fallbackZone : sampleZone;
    const at = waitUntil(parsed.data, now, zone, {});
    return { at, zone, inPast: at <= now };
  }, [parsed.success, parsed.data, usesJourneyZone, fallbackZone, sampleZone]);

  const format = (at: number, zone: string) =>
    new Intl.DateTimeFormat(locale === "zh" ? "zh-CN" : "en-GB", { weekday: "short", year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZone: zone, timeZoneName: "short" }).format(at);

  return (
    <>
      <SchemaForm schema={definition.config} value={config} onChange={onChange} disabled={readOnly} hints={hints} idPrefix={nodeId} />
      {usesUserZone || usesJourneyZone ? (
        <section className="ins-note" aria-label={t("wait.zoneTitle")}>
          <h4>{t("wait.zoneTitle")}</h4>
          <p>{usesJourneyZone ? t("wait.journeyZone") : t("wait.userZone", { zone: fallbackZone })}</p>
          <label className="ins-field">
            {t("wait.journeyZoneLabel")}
            <TimezoneSelect
              value={settings.timezone}
              disabled={readOnly}
              emptyLabel={t("inspector.workspaceZoneNamed", { zone: workspaceTimezone })}
              onChange={(timezone) => {
                const nextSettings = { ...settings };
                if (timezone) nextSettings.timezone = timezone;
                else delete nextSettings.timezone;
                onSettingsChange(nextSettings);
              }}
            />
          </label>
        </section>
      ) : null}
      {next ? (
        <section className="ins-note" aria-label={t("wait.nextTitle")}>
          <h4>{t("wait.nextTitle")}</h4>
          {usesUserZone ? (
            <label className="ins-field">
              {t("wait.sampleZone")}
              <TimezoneSelect value={sampleZone} onChange={(z) => setSampleZone(z ?? fallbackZone)} />
            </label>
          ) : null}
          <p data-testid="wait-next">{next.inPast ? t("wait.passesNow") : t("wait.endsAt", { at: format(next.at, next.zone) })}</p>
        </section>
      ) : null}
    </>
  );
}
