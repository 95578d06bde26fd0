import type { Context } from '../main'
import { ApiError, NetworkError } from '../api'
import { h, append } from '../dom'
import { t } from '../i18n'

/** A failure, said in words a delegate understands. */
export function errorMessage(error: unknown): string {
  if (error instanceof NetworkError) return t('error.network')
  if (error instanceof ApiError) {
    if (error.status === 401) return t('error.sessionEnded')
    if (error.status === 403) return t('error.forbidden', { detail: error.detail })
    if (error.status === 404) return t('notFound.text')
    return t('error.generic', { detail: error.detail })
  }
  return t('error.generic', { detail: String(error) })
}

/** Draws an error in place of a page, with a way to try again. */
export function showError(ctx: Context, error: unknown, retry: () => void): void {
  append(ctx.main, [
    h(
      'section',
      { class: 'page narrow' },
      h('div', { class: 'notice error', role: 'alert' }, errorMessage(error)),
      h('p', {}, h('button', { class: 'button', type: 'button', onclick: retry }, t('common.retry'))),
    ),
  ])
}
