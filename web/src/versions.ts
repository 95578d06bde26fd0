// Versions of a resolution (docs/versions.md): the API's shapes, how a
// version is named on the screen, and a comparison made ready to draw.
// Pure logic, no DOM: the History panel (screens/history.ts) draws it.
import { request, type Phase, type Role } from './api'
import { locale, t, type MessageKey } from './i18n'

export type VersionKind = 'phase' | 'checkpoint' | 'named' | 'restore' | 'amendment'

export interface Version {
  id: string
  resolution_id: string
  /** 1, 2, 3… in order of recording. */
  number: number
  /** As the server recorded it: "Draft 2 as circulated", "Tabled", "After amendment 4". */
  name: string
  kind: VersionKind
  reason: string | null
  seq: number
  created_by: string | null
  /** Unix milliseconds. */
  created_at: number
}

export interface Contributor {
  account_id: string
  name: string
  delegation_id: string | null
  delegation_name: string | null
}

export interface VersionSummary extends Version {
  contributors: Contributor[]
}

export type BlockKind = 'preamble' | 'operative' | 'subparagraph' | 'heading'

export interface Inline {
  text: string
  italic?: boolean
  bold?: boolean
}

export interface ReadingBlock {
  id: string
  kind: BlockKind
  level: number
  inlines: Inline[]
  number: string | null
  reference: string | null
}

export interface Reading {
  version: Version | null
  seq: number
  blocks: ReadingBlock[]
}

export interface Side {
  kind: BlockKind
  level: number
  number: string | null
  text: string
}

export type SegmentOp = 'equal' | 'insert' | 'delete'

export interface Segment {
  op: SegmentOp
  text: string
}

export type ParagraphStatus = 'unchanged' | 'modified' | 'added' | 'removed'

export interface ParagraphChange {
  id: string
  status: ParagraphStatus
  moved: boolean
  from: Side | null
  to: Side | null
  segments: Segment[]
}

export interface Comparison {
  paragraphs: ParagraphChange[]
  added: number
  removed: number
  modified: number
  moved: number
}

export interface CompareResponse {
  from: Version | null
  to: Version | null
  comparison: Comparison
}

/** `live`, or a version's id: what the compare endpoint takes on either side. */
export type Which = 'live' | string

const base = (resolution: string) => `/api/resolutions/${encodeURIComponent(resolution)}`

export const versionsApi = {
  list: (resolution: string) => request<VersionSummary[]>('GET', `${base(resolution)}/versions`),
  name: (resolution: string, name: string) => request<{ id: string }>('POST', `${base(resolution)}/versions`, { name }),
  read: (resolution: string, version: string) =>
    request<Reading>('GET', `${base(resolution)}/versions/${encodeURIComponent(version)}`),
  compare: (resolution: string, from: Which, to: Which) =>
    request<CompareResponse>('GET', `${base(resolution)}/compare?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`),
  restore: (resolution: string, version: string) =>
    request<{ id: string }>('POST', `${base(resolution)}/versions/${encodeURIComponent(version)}/restore`, {}),
}

/**
 * The server names its automatic versions in English ("Tabled", "After
 * amendment 4", "Restored from 3 (Draft 2)"); they are said here in the
 * reader's language. A name given by hand is shown as it was typed.
 */
const PHASE_NAMES: Record<string, MessageKey> = {
  'Returned to drafting': 'history.auto.drafting',
  Tabled: 'history.auto.tabled',
  'Put to the vote': 'history.auto.voting',
  Adopted: 'history.auto.adopted',
  Rejected: 'history.auto.rejected',
  Withdrawn: 'history.auto.withdrawn',
}

export function versionName(version: Pick<Version, 'kind' | 'name'>): string {
  switch (version.kind) {
    case 'phase': {
      const key = PHASE_NAMES[version.name]
      return key ? t(key) : version.name
    }
    case 'checkpoint':
      return t('history.auto.checkpoint')
    case 'amendment': {
      const match = /^After amendment (\d+)$/.exec(version.name)
      return match ? t('history.auto.amendment', { number: match[1] }) : version.name
    }
    case 'restore': {
      const match = /^Restored from (\d+) \((.*)\)$/s.exec(version.name)
      return match ? t('history.auto.restore', { number: match[1], name: match[2] }) : version.name
    }
    default:
      return version.name
  }
}

/** A version's date and time in the reader's locale: "4 Dec 2026, 10:32". */
export function when(millis: number, timeZone?: string): string {
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(new Date(millis))
}

/** "Version 3 — Draft 2 as circulated — 4 Dec 2026, 10:32". */
export function versionTitle(version: Version, timeZone?: string): string {
  return t('history.versionTitle', { number: version.number, name: versionName(version), date: when(version.created_at, timeZone) })
}

/** "Ana Souza (Brazil)". */
export function contributorName(contributor: Contributor): string {
  return contributor.delegation_name ? `${contributor.name} (${contributor.delegation_name})` : contributor.name
}

/**
 * Who recorded a version, as far as this page knows: a contributor of it,
 * the reader, or someone in `names`; null for the automatic ones.
 */
export function recordedBy(version: VersionSummary, names: ReadonlyMap<string, string>): string | null {
  if (!version.created_by) return null
  const contributor = version.contributors.find((c) => c.account_id === version.created_by)
  if (contributor) return contributor.name
  return names.get(version.created_by) ?? null
}

/** Newest first, as the History panel lists them. */
export function newestFirst<T extends Pick<Version, 'number'>>(versions: T[]): T[] {
  return [...versions].sort((a, b) => b.number - a.number)
}

/**
 * Who may name a version and restore one, as the server decides it (see
 * server/versions.rs: may_name, may_restore). Used only to offer the
 * buttons; the server still says no with its own message.
 */
export function mayNameVersion(role: Role, sponsor: boolean): boolean {
  return role === 'secretariat' || role === 'chair' || (role === 'delegate' && sponsor)
}

export function mayRestoreVersion(role: Role, phase: Phase): boolean {
  return role === 'secretariat' && (phase === 'drafting' || phase === 'tabled' || phase === 'voting')
}

/** A paragraph of a comparison, ready to draw. */
export interface DiffParagraph {
  id: string
  status: ParagraphStatus
  moved: boolean
  kind: BlockKind
  level: number
  /** The later reading's number, or the earlier one's for a removed paragraph. */
  number: string | null
  /** The earlier number, when it differs ("3." became "4."). */
  formerNumber: string | null
  /** Runs of text; adjacent runs of the same kind joined. */
  runs: Segment[]
}

/** Joins adjacent segments of the same kind, and drops empty ones. */
export function joinRuns(segments: Segment[]): Segment[] {
  const runs: Segment[] = []
  for (const segment of segments) {
    if (segment.text === '') continue
    const last = runs[runs.length - 1]
    if (last && last.op === segment.op) last.text += segment.text
    else runs.push({ op: segment.op, text: segment.text })
  }
  return runs
}

/** The comparison as the page draws it: one entry per paragraph, in the later reading's order. */
export function diffParagraphs(comparison: Comparison): DiffParagraph[] {
  return comparison.paragraphs.map((paragraph) => {
    const side = paragraph.to ?? paragraph.from
    const number = side?.number ?? null
    const former = paragraph.from && paragraph.to && paragraph.from.number !== paragraph.to.number ? paragraph.from.number : null
    return {
      id: paragraph.id,
      status: paragraph.status,
      moved: paragraph.moved,
      kind: side?.kind ?? 'operative',
      level: side?.level ?? 0,
      number,
      formerNumber: former,
      runs: joinRuns(paragraph.segments),
    }
  })
}

/** "2 paragraphs added, 1 removed, 3 modified" or "No difference". */
export function compareSummary(comparison: Comparison): string {
  const parts: string[] = []
  if (comparison.added) parts.push(t('history.summary.added', { count: comparison.added }))
  if (comparison.removed) parts.push(t('history.summary.removed', { count: comparison.removed }))
  if (comparison.modified) parts.push(t('history.summary.modified', { count: comparison.modified }))
  if (comparison.moved) parts.push(t('history.summary.moved', { count: comparison.moved }))
  return parts.length ? parts.join(' · ') : t('history.summary.none')
}

/** The CSS classes of a block, as the editor's schema draws it (schema.ts). */
export function blockClass(kind: BlockKind): string {
  switch (kind) {
    case 'preamble':
      return 'pp'
    case 'operative':
      return 'op'
    case 'subparagraph':
      return 'sp'
    case 'heading':
      return 'hd'
  }
}

/** Characters of a paragraph written by one author (GET …/attribution). */
export interface Share {
  account_id: string | null
  delegation_id: string | null
  characters: number
}

export interface Attribution {
  paragraphs: { id: string; shares: Share[] }[]
  /** Names of the accounts and delegations mentioned. */
  names: Record<string, string>
}

export const attributionApi = {
  read: (resolution: string, version: string | null) =>
    request<Attribution>('GET', `${base(resolution)}/attribution${version ? `?version=${encodeURIComponent(version)}` : ''}`),
  live: (resolution: string) => request<Reading>('GET', `${base(resolution)}/body`),
}

/** One author of a paragraph, as the page says it: "Claudia Hernández (Mexico) 80 %". */
export interface AuthorShare {
  name: string
  percent: number
}

/**
 * The authors of a paragraph, most characters first, with their share in
 * whole percent; text written by no account (the empty skeleton, a restore
 * without an author) is "the server".
 */
export function authorShares(shares: Share[], names: Record<string, string>): AuthorShare[] {
  const total = shares.reduce((sum, share) => sum + share.characters, 0)
  if (total === 0) return []
  return [...shares]
    .filter((share) => share.characters > 0)
    .sort((a, b) => b.characters - a.characters)
    .map((share) => {
      const person = share.account_id ? (names[share.account_id] ?? t('history.unknownAuthor')) : t('history.serverAuthor')
      const delegation = share.delegation_id ? names[share.delegation_id] : undefined
      return {
        name: delegation ? `${person} (${delegation})` : person,
        percent: Math.max(1, Math.round((share.characters / total) * 100)),
      }
    })
}
