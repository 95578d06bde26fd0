import { en, type MessageKey } from './locales/en'
import { es } from './locales/es'
import { fr } from './locales/fr'
import { pt } from './locales/pt'

export type { MessageKey }
export type Language = 'en' | 'es' | 'fr' | 'pt'

export const catalogs: Record<Language, Record<MessageKey, string>> = { en, es, fr, pt }

/** The languages offered, each named in itself (an endonym is never translated). */
export const LANGUAGES: { code: Language; name: string }[] = [
  { code: 'en', name: 'English' },
  { code: 'es', name: 'Español' },
  { code: 'fr', name: 'Français' },
  { code: 'pt', name: 'Português' },
]

const STORAGE_KEY = 'plenary.language'

/** The first of the browser's preferred languages that we speak; English otherwise. */
export function pickLanguage(preferred: readonly string[]): Language {
  for (const tag of preferred) {
    const base = tag.toLowerCase().split(/[-_]/)[0]
    if (base === 'en' || base === 'es' || base === 'fr' || base === 'pt') return base
  }
  return 'en'
}

/** Replaces each {name} in `template` with `values[name]`. */
export function format(template: string, values: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in values ? String(values[name]) : whole,
  )
}

let current: Language = 'en'
const listeners = new Set<() => void>()

function stored(): Language | null {
  try {
    const value = localStorage.getItem(STORAGE_KEY)
    return value === 'en' || value === 'es' || value === 'fr' || value === 'pt' ? value : null
  } catch {
    return null
  }
}

/** Chooses the language at start: the one chosen before, else the browser's. */
export function initLanguage(): Language {
  const browser = typeof navigator === 'undefined' ? [] : navigator.languages?.length ? navigator.languages : [navigator.language]
  current = stored() ?? pickLanguage(browser)
  applyToDocument()
  return current
}

function applyToDocument(): void {
  if (typeof document !== 'undefined') document.documentElement.lang = current
}

export function language(): Language {
  return current
}

/** Switches the language, remembers the choice, and redraws. */
export function setLanguage(next: Language): void {
  current = next
  try {
    localStorage.setItem(STORAGE_KEY, next)
  } catch {
    // Private browsing: the choice lasts for this page only.
  }
  applyToDocument()
  for (const listener of listeners) listener()
}

export function onLanguageChange(listener: () => void): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

/** The message `key` in the current language, with its {placeholders} filled. */
export function t(key: MessageKey, values?: Record<string, string | number>): string {
  return format(catalogs[current][key] ?? en[key], values)
}

/**
 * The locale to format with: the browser's own when it is a variant of the
 * current language (en-GB writes "2 December 2026"), else the language.
 */
export function locale(): string {
  const browser = typeof navigator === 'undefined' ? '' : navigator.language ?? ''
  return browser.toLowerCase().split(/[-_]/)[0] === current ? browser : current
}

/** "Mexico, Brazil and Canada", as the current language writes a list. */
export function list(items: string[]): string {
  try {
    return new Intl.ListFormat(locale(), { style: 'long', type: 'conjunction' }).format(items)
  } catch {
    return items.join(', ')
  }
}

/** A date (YYYY-MM-DD) as the current language writes it: "2 December 2026". */
export function date(isoDay: string): string {
  const [year, month, day] = isoDay.split('-').map(Number)
  if (!year || !month || !day) return isoDay
  return new Intl.DateTimeFormat(locale(), { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }).format(
    new Date(Date.UTC(year, month - 1, day)),
  )
}
