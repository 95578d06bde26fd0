import type { Context, Screen } from '../main'
import { api, type MeetingDetail } from '../api'
import { h, append } from '../dom'
import { t } from '../i18n'
import { showError } from './errors'
import { meetingExportMenu } from './export-menu'
import { meetingFacts, phaseBadge, sponsorNames, sponsorsLine } from './parts'

export async function meetingScreen(ctx: Context, id: string): Promise<Screen> {
  let detail: MeetingDetail
  try {
    ctx.main.setAttribute('aria-busy', 'true')
    detail = await api.meeting(id)
  } catch (error) {
    ctx.title(t('notFound.title'))
    showError(ctx, error, () => ctx.navigate(location.pathname, { replace: true }))
    return {}
  } finally {
    ctx.main.removeAttribute('aria-busy')
  }
  const { meeting, delegations, resolutions } = detail
  ctx.title(meeting.title)
  ctx.crumbs([{ label: t('nav.meetings'), href: '/meetings' }, { label: meeting.title }])
  const mine = ctx.me?.account.delegation_id ?? null

  const resolutionList = h('ul', { class: 'resolution-list' })
  if (resolutions.length === 0) resolutionList.append(h('li', { class: 'empty' }, t('meeting.noResolutions')))
  for (const resolution of resolutions) {
    resolutionList.append(
      h(
        'li',
        { class: 'card resolution-card' },
        h(
          'div',
          { class: 'resolution-card-main' },
          h('h3', {}, h('a', { href: `/resolutions/${resolution.id}`, class: 'stretched' }, resolution.title)),
          h('p', { class: 'sponsors' }, sponsorsLine(sponsorNames(resolution, delegations))),
        ),
        phaseBadge(resolution.phase),
      ),
    )
  }

  const delegationList = h('ul', { class: 'delegation-list' })
  if (delegations.length === 0) delegationList.append(h('li', { class: 'empty' }, t('meeting.noDelegations')))
  for (const delegation of delegations) {
    const isMine = delegation.id === mine
    delegationList.append(
      h(
        'li',
        { class: isMine ? 'mine' : null },
        delegation.name,
        isMine ? h('span', { class: 'tag' }, t('meeting.yourDelegation')) : null,
      ),
    )
  }

  append(ctx.main, [
    h(
      'section',
      { class: 'page' },
      h(
        'header',
        { class: 'page-header' },
        h('h1', {}, meeting.title),
        meeting.theme ? h('p', { class: 'theme lead' }, t('meeting.theme', { theme: meeting.theme })) : null,
        h('p', { class: 'facts' }, meetingFacts(meeting).join(' · ')),
        meetingExportMenu(meeting.id),
      ),
      h(
        'div',
        { class: 'columns' },
        h('section', { class: 'column-main', 'aria-labelledby': 'resolutions-heading' }, h('h2', { id: 'resolutions-heading' }, t('meeting.resolutions')), resolutionList),
        h(
          'section',
          { class: 'column-side', 'aria-labelledby': 'delegations-heading' },
          h('h2', { id: 'delegations-heading' }, t('meeting.delegations', { count: delegations.length })),
          delegationList,
        ),
      ),
    ),
  ])
  return {}
}
