import type { Context, Screen } from '../main'
import { api, ApiError } from '../api'
import { h, append, replace } from '../dom'
import { t } from '../i18n'
import { errorMessage } from './errors'

/** The first-run page, reached by the link the server prints: /setup#TOKEN. */
export async function setupScreen(ctx: Context): Promise<Screen> {
  ctx.title(t('setup.title'))
  const token = decodeURIComponent(location.hash.replace(/^#/, ''))
  const section = h('section', { class: 'page auth' }, h('div', { class: 'auth-intro' }, h('h1', {}, t('setup.title'))))
  append(ctx.main, [section])
  let needed = true
  try {
    needed = (await api.setupStatus()).needed
  } catch (error) {
    append(section, [h('div', { class: 'notice error', role: 'alert' }, errorMessage(error))])
    return {}
  }
  const toLogin = h('p', {}, h('a', { class: 'button', href: '/login' }, t('setup.goToLogin')))
  if (!needed) {
    append(section, [h('div', { class: 'notice', role: 'status' }, t('setup.done')), toLogin])
    return {}
  }
  if (!token) {
    append(section, [h('div', { class: 'notice warning', role: 'alert' }, t('setup.noToken'))])
    return {}
  }
  const field = (id: string, label: string, input: HTMLInputElement) =>
    h('div', { class: 'field' }, h('label', { for: id }, label), input)
  const name = h('input', { id: 'setup-name', type: 'text', autocomplete: 'name', required: true, autofocus: true })
  const email = h('input', { id: 'setup-email', type: 'email', autocomplete: 'username', required: true })
  const password = h('input', { id: 'setup-password', type: 'password', autocomplete: 'new-password', required: true, minlength: 10 })
  const confirm = h('input', { id: 'setup-confirm', type: 'password', autocomplete: 'new-password', required: true, minlength: 10 })
  const message = h('div', { class: 'form-message', 'aria-live': 'assertive' })
  const submit = h('button', { class: 'button primary wide', type: 'submit' }, t('setup.submit'))
  const form = h(
    'form',
    { class: 'card form' },
    field('setup-name', t('setup.name'), name),
    field('setup-email', t('setup.email'), email),
    field('setup-password', t('setup.password'), password),
    field('setup-confirm', t('setup.confirm'), confirm),
    message,
    submit,
  )
  const fail = (text: string) => replace(message, h('div', { class: 'notice error', role: 'alert' }, text))
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    if (password.value.length < 10) return fail(t('setup.tooShort'))
    if (password.value !== confirm.value) return fail(t('setup.mismatch'))
    submit.disabled = true
    try {
      await api.setup(token, email.value.trim(), name.value.trim(), password.value)
      history.replaceState(null, '', '/setup')
      ctx.signedIn(await api.me())
      ctx.navigate('/meetings')
    } catch (error) {
      submit.disabled = false
      fail(error instanceof ApiError && error.status === 403 ? t('setup.badToken') : errorMessage(error))
    }
  })
  append(section, [h('p', { class: 'lead' }, t('setup.intro')), form])
  return {}
}
