import { useTranslation } from "react-i18next";
import type { InspectorProps } from "../registry";
import { SchemaForm } from "../SchemaForm";

/** The trigger says how users arrive; who may enter how often lives with the journey settings. */
export function TriggerInspector({ nodeId, definition, config, onChange, readOnly, hints, settings, openSettings }: InspectorProps) {
  const { t } = useTranslation("canvas");
  const entry = settings.entry;
  return (
    <>
      <SchemaForm schema={definition.config} value={config} onChange={onChange} disabled={readOnly} hints={hints} idPrefix={nodeId} />
      <section className="ins-note">
        <h4>{t("trigger.entryTitle")}</h4>
        <p>
          {t(`options.rule.${entry.rule}`)} · {t("trigger.holdout", { percent: settings.holdoutPercent })}
        </p>
        <button type="button" className="link" onClick={openSettings}>
          {t("trigger.openSettings")}
        </button>
      </section>
    </>
  );
}
