import type { Delegation, Meeting, Phase, Resolution } from '../api'
import { h } from '../dom'
import { date, list, t } from '../i18n'

export function phaseBadge(phase: Phase): HTMLElement {
  return h('span', { class: `phase phase-${phase}` }, h('span', { class: 'sr-only' }, `${t('phase.label')}: `), t(`phase.${phase}`))
}

/** The names of a resolution's sponsors, in their order. */
export function sponsorNames(resolution: Resolution, delegations: Delegation[]): string[] {
  return resolution.sponsors.map((id) => delegations.find((delegation) => delegation.id === id)?.name ?? id)
}

/** "Sponsored by Mexico, Brazil and Canada". */
export function sponsorsLine(names: string[]): string {
  return t('res.sponsoredBy', { list: list(names) })
}

/** "2 to 4 December 2026 · Mexico City" and the like. */
export function meetingFacts(meeting: Meeting): string[] {
  const facts: string[] = []
  if (meeting.starts_on && meeting.ends_on && meeting.starts_on !== meeting.ends_on) {
    facts.push(t('meeting.dates', { from: date(meeting.starts_on), to: date(meeting.ends_on) }))
  } else if (meeting.starts_on) {
    facts.push(date(meeting.starts_on))
  }
  if (meeting.place) facts.push(meeting.place)
  return facts
}
