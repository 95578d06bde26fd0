import type { Context, Screen } from '../main'
import { h, append } from '../dom'
import { t } from '../i18n'

export function notFoundScreen(ctx: Context): Screen {
  ctx.title(t('notFound.title'))
  append(ctx.main, [
    h(
      'section',
      { class: 'page narrow' },
      h('h1', {}, t('notFound.title')),
      h('p', {}, t('notFound.text')),
      h('p', {}, h('a', { class: 'button', href: '/meetings' }, t('notFound.back'))),
    ),
  ])
  return {}
}
