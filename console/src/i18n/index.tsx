// Language: the browser's (zh* → Chinese, else English) until the user switches; the choice is
// remembered. Money and dates use the same locale (zh-CN or the browser's English variant).
import { createContext, useContext, useMemo, useState, type ReactNode } from "react";
import { en, zh, type MessageKey } from "./messages";
import { formatMoney, formatTotals, type Money } from "./money";

export type Language = "en" | "zh";
const KEY = "crm.console.language";

export function browserLanguage(languages: readonly string[] = navigator.languages ?? [navigator.language]): Language {
  return languages.some((l) => l.toLowerCase().startsWith("zh")) &&
    !languages[0]?.toLowerCase().startsWith("en")
    ? "zh"
    : "en";
}

export function translate(language: Language, key: MessageKey, values: Record<string, string | number> = {}): string {
  const template = (language === "zh" ? zh[key] : undefined) ?? en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? `{${name}}`));
}

export interface I18n {
  language: Language;
  locale: string;
  setLanguage: (language: Language) => void;
  t: (key: MessageKey, values?: Record<string, string | number>) => string;
  money: (money: Money, compact?: boolean) => string;
  totals: (totals: Money[], compact?: boolean) => string;
  date: (iso: string | null | undefined) => string;
  dateTime: (iso: string | null | undefined) => string;
  percent: (rate: number) => string;
}

export function makeI18n(language: Language, setLanguage: (l: Language) => void = () => {}): I18n {
  const locale = language === "zh" ? "zh-CN" : navigator.language?.startsWith("en") ? navigator.language : "en-GB";
  const dateFormat = new Intl.DateTimeFormat(locale, { dateStyle: "medium" });
  const dateTimeFormat = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
  const percentFormat = new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 1 });
  return {
    language,
    locale,
    setLanguage,
    t: (key, values) => translate(language, key, values),
    money: (m, compact) => formatMoney(m, locale, compact),
    totals: (t, compact) => formatTotals(t, locale, compact),
    date: (iso) => (iso ? dateFormat.format(new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso)) : "—"),
    dateTime: (iso) => (iso ? dateTimeFormat.format(new Date(iso)) : "—"),
    percent: (rate) => percentFormat.format(rate),
  };
}

const Context = createContext<I18n>(makeI18n("en"));

export function I18nProvider({ children }: { children: ReactNode }) {
  const [language, setLanguageState] = useState<Language>(
    () => (localStorage.getItem(KEY) as Language | null) ?? browserLanguage(),
  );
  const value = useMemo(
    () =>
      makeI18n(language, (next) => {
        localStorage.setItem(KEY, next);
        document.documentElement.lang = next === "zh" ? "zh-CN" : "en";
        setLanguageState(next);
      }),
    [language],
  );
  document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useI18n(): I18n {
  return useContext(Context);
}
