import { afterEach, describe, expect, it } from 'vitest'
import { setLanguage } from '../src/i18n'
import {
  authorShares,
  compareSummary,
  diffParagraphs,
  joinRuns,
  mayNameVersion,
  mayRestoreVersion,
  newestFirst,
  recordedBy,
  versionName,
  versionTitle,
  type Comparison,
  type Version,
  type VersionSummary,
} from '../src/versions'
import { meetingExportUrl, resolutionExportUrl } from '../src/screens/export-menu'

function version(fields: Partial<Version>): Version {
  return {
    id: 'v1',
    resolution_id: 'r1',
    number: 1,
    name: 'Draft',
    kind: 'named',
    reason: null,
    seq: 1,
    created_by: null,
    created_at: Date.UTC(2026, 11, 3, 14, 5),
    ...fields,
  }
}

afterEach(() => setLanguage('en'))

describe('version names', () => {
  it('keeps a name given by hand as it was typed', () => {
    expect(versionName(version({ kind: 'named', name: 'Draft 2 as circulated' }))).toBe('Draft 2 as circulated')
    setLanguage('fr')
    expect(versionName(version({ kind: 'named', name: 'Draft 2 as circulated' }))).toBe('Draft 2 as circulated')
  })

  it('says the automatic names in the reader’s language', () => {
    setLanguage('es')
    expect(versionName(version({ kind: 'phase', name: 'Tabled' }))).toBe('Presentada')
    expect(versionName(version({ kind: 'phase', name: 'Put to the vote' }))).toBe('Sometida a votación')
    expect(versionName(version({ kind: 'amendment', name: 'After amendment 4' }))).toBe('Tras la enmienda 4')
    expect(versionName(version({ kind: 'checkpoint', name: 'Checkpoint' }))).toBe('Guardado automático tras la edición')
    setLanguage('pt')
    expect(versionName(version({ kind: 'restore', name: 'Restored from 3 (Draft 2 (final))' }))).toBe(
      'Restaurada a partir da versão 3 (Draft 2 (final))',
    )
  })

  it('falls back to the server’s name when it does not know the pattern', () => {
    expect(versionName(version({ kind: 'phase', name: 'Something new' }))).toBe('Something new')
    expect(versionName(version({ kind: 'amendment', name: 'After amendments 4 and 5' }))).toBe('After amendments 4 and 5')
  })

  it('titles a version with its number, name and date in the reader’s locale', () => {
    const v = version({ number: 3, name: 'Draft 2' })
    expect(versionTitle(v, 'UTC')).toMatch(/^Version 3 — Draft 2 — .*2026.*(14:05|2:05\sPM)/)
    setLanguage('fr')
    expect(versionTitle(v, 'UTC')).toMatch(/^Version 3 — Draft 2 — 3 déc\. 2026.*14:05/)
  })

  it('lists the newest first', () => {
    const list = [version({ number: 1 }), version({ number: 3 }), version({ number: 2 })]
    expect(newestFirst(list).map((v) => v.number)).toEqual([3, 2, 1])
    expect(list.map((v) => v.number)).toEqual([1, 3, 2])
  })

  it('names who recorded a version when the page knows them', () => {
    const summary: VersionSummary = {
      ...version({ created_by: 'a2' }),
      contributors: [{ account_id: 'a2', name: 'Ana Paula Souza', delegation_id: 'd', delegation_name: 'Brazil' }],
    }
    expect(recordedBy(summary, new Map())).toBe('Ana Paula Souza')
    expect(recordedBy({ ...summary, created_by: 'a9' }, new Map([['a9', 'Secretariat']]))).toBe('Secretariat')
    expect(recordedBy({ ...summary, created_by: 'a9' }, new Map())).toBeNull()
    expect(recordedBy({ ...summary, created_by: null }, new Map([['a9', 'x']]))).toBeNull()
  })
})

describe('who may name and restore (mirrors the server)', () => {
  it('lets the presidency and sponsors name versions', () => {
    expect(mayNameVersion('secretariat', false)).toBe(true)
    expect(mayNameVersion('chair', false)).toBe(true)
    expect(mayNameVersion('delegate', true)).toBe(true)
    expect(mayNameVersion('delegate', false)).toBe(false)
    expect(mayNameVersion('observer', true)).toBe(false)
  })

  it('lets only the secretariat restore, before a decision', () => {
    expect(mayRestoreVersion('secretariat', 'drafting')).toBe(true)
    expect(mayRestoreVersion('secretariat', 'voting')).toBe(true)
    expect(mayRestoreVersion('secretariat', 'adopted')).toBe(false)
    expect(mayRestoreVersion('chair', 'drafting')).toBe(false)
  })
})

describe('a comparison made ready to draw', () => {
  const comparison: Comparison = {
    paragraphs: [
      {
        id: 'p1',
        status: 'modified',
        moved: false,
        from: { kind: 'preamble', level: 0, number: null, text: 'Recalling the Protocol,' },
        to: { kind: 'preamble', level: 0, number: null, text: 'Recalling the Convention,' },
        segments: [
          { op: 'equal', text: 'Recalling' },
          { op: 'equal', text: ' ' },
          { op: 'equal', text: 'the ' },
          { op: 'delete', text: 'Protocol' },
          { op: 'insert', text: 'Convention' },
          { op: 'equal', text: ',' },
        ],
      },
      {
        id: 'p3',
        status: 'added',
        moved: false,
        from: null,
        to: { kind: 'operative', level: 0, number: '1.', text: 'Calls upon governments;' },
        segments: [{ op: 'insert', text: 'Calls upon governments;' }],
      },
      {
        id: 'p2',
        status: 'unchanged',
        moved: true,
        from: { kind: 'operative', level: 0, number: '1.', text: 'Urges;' },
        to: { kind: 'operative', level: 0, number: '2.', text: 'Urges;' },
        segments: [{ op: 'equal', text: 'Urges;' }],
      },
      {
        id: 'p4',
        status: 'removed',
        moved: false,
        from: { kind: 'subparagraph', level: 2, number: '(i)', text: 'gone' },
        to: null,
        segments: [{ op: 'delete', text: 'gone' }],
      },
    ],
    added: 1,
    removed: 1,
    modified: 1,
    moved: 1,
  }

  it('joins runs of the same kind and drops empty ones', () => {
    expect(
      joinRuns([
        { op: 'insert', text: ' ' },
        { op: 'insert', text: 'without' },
        { op: 'equal', text: '' },
        { op: 'insert', text: ' delay' },
        { op: 'equal', text: ';' },
      ]),
    ).toEqual([
      { op: 'insert', text: ' without delay' },
      { op: 'equal', text: ';' },
    ])
  })

  it('gives each paragraph its kind, number, former number and runs', () => {
    const paragraphs = diffParagraphs(comparison)
    expect(paragraphs.map((p) => [p.id, p.status, p.kind, p.number, p.formerNumber, p.moved])).toEqual([
      ['p1', 'modified', 'preamble', null, null, false],
      ['p3', 'added', 'operative', '1.', null, false],
      ['p2', 'unchanged', 'operative', '2.', '1.', true],
      ['p4', 'removed', 'subparagraph', '(i)', null, false],
    ])
    expect(paragraphs[0].runs).toEqual([
      { op: 'equal', text: 'Recalling the ' },
      { op: 'delete', text: 'Protocol' },
      { op: 'insert', text: 'Convention' },
      { op: 'equal', text: ',' },
    ])
    expect(paragraphs[3].level).toBe(2)
    // The server's answer is left as it was.
    expect(comparison.paragraphs[0].segments).toHaveLength(6)
  })

  it('sums the changes up in a line, or says there is none', () => {
    expect(compareSummary(comparison)).toBe('Paragraphs added: 1 · Paragraphs deleted: 1 · Paragraphs changed: 1 · Paragraphs moved: 1')
    expect(compareSummary({ paragraphs: [], added: 0, removed: 0, modified: 0, moved: 0 })).toBe('The two texts are the same.')
    setLanguage('es')
    expect(compareSummary({ ...comparison, removed: 0, moved: 0 })).toBe('Párrafos añadidos: 1 · Párrafos modificados: 1')
  })
})

describe('export links', () => {
  it('point at the server’s export routes, with the version when one is viewed', () => {
    expect(resolutionExportUrl('r1', 'pdf')).toBe('/api/resolutions/r1/export?format=pdf')
    expect(resolutionExportUrl('r1', 'akn', 4)).toBe('/api/resolutions/r1/export?format=akn&version=4')
    expect(meetingExportUrl('m 1', 'zip')).toBe('/api/meetings/m%201/export?format=zip')
  })
})

describe('who wrote a paragraph', () => {
  const names = { a1: 'Claudia Hernández', d1: 'Mexico', a2: 'Ana Paula Souza' }

  it('lists the authors, most characters first, with their share', () => {
    expect(
      authorShares(
        [
          { account_id: 'a2', delegation_id: null, characters: 10 },
          { account_id: 'a1', delegation_id: 'd1', characters: 30 },
          { account_id: null, delegation_id: null, characters: 0 },
        ],
        names,
      ),
    ).toEqual([
      { name: 'Claudia Hernández (Mexico)', percent: 75 },
      { name: 'Ana Paula Souza', percent: 25 },
    ])
  })

  it('names the server and accounts it cannot name, and never says 0 %', () => {
    setLanguage('fr')
    expect(
      authorShares(
        [
          { account_id: null, delegation_id: null, characters: 999 },
          { account_id: 'gone', delegation_id: null, characters: 1 },
        ],
        names,
      ),
    ).toEqual([
      { name: 'le serveur (rétablissement ou modèle)', percent: 100 },
      { name: 'un ancien compte', percent: 1 },
    ])
    expect(authorShares([], names)).toEqual([])
  })
})
