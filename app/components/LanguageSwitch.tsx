import { Form, useLocation } from "@remix-run/react";
import { useTranslation } from "react-i18next";

/** Switches between 简体中文 and English; works without JavaScript too. */
export function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  const location = useLocation();
  const other = i18n.language === "zh" ? "en" : "zh";
  return (
    <Form method="post" action="/language" className="language-switch" reloadDocument>
      <input type="hidden" name="locale" value={other} />
      <input type="hidden" name="back" value={location.pathname + location.search} />
      <button type="submit" className="link" aria-label={t("language.label")} data-testid="language-switch">
        {t(`language.${other}`)}
      </button>
    </Form>
  );
}
