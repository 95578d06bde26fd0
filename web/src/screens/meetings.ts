import type { Context, Screen } from '../main'
import { api, type Meeting } from '../api'
import { h, append, replace } from '../dom'
import { t } from '../i18n'
import { showError } from './errors'
import { meetingFacts } from './parts'

export async function meetingsScreen(ctx: Context): Promise<Screen> {
  ctx.title(t('meetings.title'))
  ctx.crumbs([{ label: t('nav.meetings') }])
  let meetings: Meeting[]
  try {
    ctx.main.setAttribute('aria-busy', 'true')
    meetings = await api.meetings()
  } catch (error) {
    showError(ctx, error, () => ctx.navigate(location.pathname, { replace: true }))
    return {}
  } finally {
    ctx.main.removeAttribute('aria-busy')
  }
  const items = h('ul', { class: 'cards' })
  if (meetings.length === 0) replace(items, h('li', { class: 'empty' }, t('meetings.empty')))
  for (const meeting of meetings) {
    items.append(
      h(
        'li',
        { class: 'card meeting-card' },
        h('h2', {}, h('a', { href: `/meetings/${meeting.id}`, class: 'stretched' }, meeting.title)),
        meeting.theme ? h('p', { class: 'theme' }, t('meeting.theme', { theme: meeting.theme })) : null,
        h('p', { class: 'facts' }, meetingFacts(meeting).join(' · ')),
      ),
    )
  }
  append(ctx.main, [
    h('section', { class: 'page' }, h('h1', {}, t('meetings.title')), h('p', { class: 'lead' }, t('meetings.intro')), items),
  ])
  return {}
}
