import i18next, { type i18n } from "i18next";
import { initReactI18next } from "react-i18next";
import { resources } from "./resources";

export const locales = ["zh", "en"] as const;
export type Locale = (typeof locales)[number];
export const LOCALE_COOKIE = "waypost_lang";

/** Picks 简体中文 or English from a stored choice, then the browser's Accept-Language. */
export function pickLocale(cookieHeader: string | null, acceptLanguage: string | null): Locale {
  const stored = cookieHeader?.match(new RegExp(`(?:^|;\\s*)${LOCALE_COOKIE}=(zh|en)`))?.[1];
  if (stored) return stored as Locale;
  const ranked = (acceptLanguage ?? "")
    .split(",")
    .map((part) => {
      const [tag, q] = part.trim().split(";q=");
      return { tag: tag.toLowerCase(), q: q ? Number(q) : 1 };
    })
    .filter((entry) => entry.tag)
    .sort((a, b) => b.q - a.q);
  for (const { tag } of ranked) {
    if (tag.startsWith("zh")) return "zh";
    if (tag.startsWith("en")) return "en";
  }
  return "en";
}

const instances = new Map<Locale, i18n>();

/** One initialised i18next instance per locale; synchronous because resources are bundled. */
export function getI18n(locale: Locale): i18n {
  let instance = instances.get(locale);
  if (!instance) {
    instance = i18next.createInstance();
    void instance.use(initReactI18next).init({
      lng: locale,
      fallbackLng: "en",
      resources,
      defaultNS: "common",
      ns: Object.keys(resources.en),
      interpolation: { escapeValue: false },
      initAsync: false,
      returnNull: false,
      showSupportNotice: false,
    });
    instances.set(locale, instance);
  }
  return instance;
}

/** Server-side translation for loaders, emails and API errors. */
export function translate(locale: Locale, key: string, options?: Record<string, unknown>): string {
  return getI18n(locale).t(key, options) as string;
}
