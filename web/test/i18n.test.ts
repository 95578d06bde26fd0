import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { catalogs, format, LANGUAGES, pickLanguage, setLanguage, t } from '../src/i18n'
import { en } from '../src/locales/en'

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()

describe('translations', () => {
  const keys = Object.keys(en).sort()

  for (const { code } of LANGUAGES) {
    it(`${code} has every key, each non-empty, with the same placeholders`, () => {
      const catalog = catalogs[code]
      expect(Object.keys(catalog).sort()).toEqual(keys)
      for (const key of keys) {
        const text = catalog[key as keyof typeof en]
        expect(text.trim(), `${code} ${key}`).not.toBe('')
        expect(placeholders(text), `${code} ${key}`).toEqual(placeholders(en[key as keyof typeof en]))
      }
    })
  }

  it('really translates: the other languages differ from English in most messages', () => {
    for (const code of ['es', 'fr', 'pt'] as const) {
      const same = keys.filter((key) => catalogs[code][key as keyof typeof en] === en[key as keyof typeof en])
      // Names and key labels (Plenary, Tab, Esc, Ctrl…) may stay as they are.
      expect(same.length, `${code}: ${same.join(', ')}`).toBeLessThan(12)
    }
  })

  it('has no message that the interface never shows', () => {
    const dir = fileURLToPath(new URL('../src', import.meta.url))
    const files = [...readdirSync(dir).map((f) => join(dir, f)), ...readdirSync(join(dir, 'screens')).map((f) => join(dir, 'screens', f))]
    const source = files.filter((f) => f.endsWith('.ts') && !f.includes('locales')).map((f) => readFileSync(f, 'utf8')).join('\n')
    // Keys built from a value: `phase.${phase}`, `move.${phase}`, `role.${role}`.
    const built = ['phase.', 'move.', 'role.']
    const unused = keys.filter((key) => !source.includes(`'${key}'`) && !built.some((prefix) => key.startsWith(prefix)))
    expect(unused).toEqual([])
  })

  it('picks the first of the browser languages that it speaks', () => {
    expect(pickLanguage(['pt-BR', 'en'])).toBe('pt')
    expect(pickLanguage(['de-DE', 'fr-CA', 'es'])).toBe('fr')
    expect(pickLanguage(['es-419'])).toBe('es')
    expect(pickLanguage(['de', 'it'])).toBe('en')
    expect(pickLanguage([])).toBe('en')
  })

  it('fills placeholders and switches language', () => {
    expect(format('Sponsored by {list}', { list: 'Mexico' })).toBe('Sponsored by Mexico')
    expect(format('{missing} stays', {})).toBe('{missing} stays')
    setLanguage('fr')
    expect(t('login.title')).toBe('Connexion')
    setLanguage('es')
    expect(t('res.sponsoredBy', { list: 'México' })).toBe('Patrocinada por México')
    setLanguage('en')
  })
})
