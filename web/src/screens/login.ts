import type { Context, Screen } from '../main'
import { api, ApiError, NetworkError } from '../api'
import { h, append, replace } from '../dom'
import { t } from '../i18n'
import { errorMessage } from './errors'

/** Where to go after signing in: a path on this site, never elsewhere. */
export function safeNext(raw: string | null): string {
  if (!raw || !raw.startsWith('/') || raw.startsWith('//') || raw.startsWith('/login')) return '/meetings'
  return raw
}

export function loginScreen(ctx: Context): Screen {
  const params = new URLSearchParams(location.search)
  const next = safeNext(params.get('next'))
  if (ctx.me) {
    ctx.navigate(next, { replace: true })
    return {}
  }
  ctx.title(t('login.title'))
  const message = h('div', { class: 'form-message', 'aria-live': 'assertive' })
  if (params.get('ended')) replace(message, h('div', { class: 'notice warning' }, t('error.sessionEnded')))
  const email = h('input', { id: 'login-email', name: 'email', type: 'email', autocomplete: 'username', required: true, autofocus: true })
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true })
  const submit = h('button', { class: 'button primary wide', type: 'submit' }, t('login.submit'))
  const form = h(
    'form',
    { class: 'card form', novalidate: false },
    h('div', { class: 'field' }, h('label', { for: 'login-email' }, t('login.email')), email),
    h('div', { class: 'field' }, h('label', { for: 'login-password' }, t('login.password')), password),
    message,
    submit,
  )
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    submit.disabled = true
    submit.textContent = t('login.submitting')
    replace(message)
    try {
      await api.login(email.value.trim(), password.value)
      ctx.signedIn(await api.me())
      ctx.navigate(next)
    } catch (error) {
      let text: string
      if (error instanceof ApiError && error.status === 401) text = t('login.failed')
      else if (error instanceof ApiError && error.status === 429) text = t('login.throttled', { seconds: error.retryAfter ?? 30 })
      else if (error instanceof NetworkError) text = t('error.network')
      else text = errorMessage(error)
      replace(message, h('div', { class: 'notice error', role: 'alert' }, text))
      password.select()
      submit.disabled = false
      submit.textContent = t('login.submit')
    }
  })
  append(ctx.main, [
    h(
      'section',
      { class: 'page auth' },
      h('div', { class: 'auth-intro' }, h('h1', {}, t('login.title')), h('p', { class: 'lead' }, t('login.intro'))),
      form,
      h('p', { class: 'hint' }, t('login.help')),
    ),
  ])
  return {}
}
