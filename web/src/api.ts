// The JSON API under /api. The session is the HttpOnly cookie the server
// sets at sign-in: same-origin requests carry it, and no script can read it.

export type Role = 'secretariat' | 'chair' | 'delegate' | 'observer'
export type Phase = 'drafting' | 'tabled' | 'voting' | 'adopted' | 'rejected' | 'withdrawn'

export interface Account {
  id: string
  email: string
  name: string
  role: Role
  delegation_id: string | null
}

export interface Me {
  account: Account
  delegation_name: string | null
  session_expires_at: number
}

export interface Meeting {
  id: string
  title: string
  theme: string | null
  starts_on: string | null
  ends_on: string | null
  place: string | null
  languages: string[]
}

export interface Delegation {
  id: string
  meeting_id: string
  name: string
}

export interface Resolution {
  id: string
  meeting_id: string
  title: string
  phase: Phase
  sponsors: string[]
  created_at: number
  updated_at: number
}

export interface MeetingDetail {
  meeting: Meeting
  delegations: Delegation[]
  resolutions: Resolution[]
}

export interface Permissions {
  edit_body: boolean
  edit_record: boolean
  moves: Phase[]
}

export interface ResolutionView {
  resolution: Resolution
  permissions: Permissions
}

/** An answer other than 2xx, with the problem+json detail when there is one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly retryAfter: number | null = null,
  ) {
    super(detail)
  }
}

/** The server could not be reached at all. */
export class NetworkError extends Error {}

let onUnauthorized: (() => void) | null = null

/** What to do when a request finds the session gone (401). */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler
}

export async function request<T>(method: string, path: string, body?: unknown, options: { quiet401?: boolean } = {}): Promise<T> {
  let response: Response
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch (error) {
    throw new NetworkError(String(error))
  }
  if (response.status === 204) return undefined as T
  if (!response.ok) {
    let detail = response.statusText
    try {
      const problem = (await response.json()) as { detail?: string; title?: string }
      detail = problem.detail ?? problem.title ?? detail
    } catch {
      // Not JSON: keep the status text.
    }
    const retry = Number(response.headers.get('Retry-After'))
    if (response.status === 401 && !options.quiet401 && onUnauthorized) onUnauthorized()
    throw new ApiError(response.status, detail, Number.isFinite(retry) && retry > 0 ? retry : null)
  }
  return (await response.json()) as T
}

export const api = {
  login: (email: string, password: string) =>
    request<{ account: Account }>('POST', '/api/auth/login', { email, password }, { quiet401: true }),
  logout: () => request<void>('POST', '/api/auth/logout', undefined, { quiet401: true }),
  me: () => request<Me>('GET', '/api/auth/me', undefined, { quiet401: true }),
  setupStatus: () => request<{ needed: boolean }>('GET', '/api/setup'),
  setup: (token: string, email: string, name: string, password: string) =>
    request<{ account: Account }>('POST', '/api/setup', { token, email, name, password }),
  meetings: () => request<Meeting[]>('GET', '/api/meetings'),
  meeting: (id: string) => request<MeetingDetail>('GET', `/api/meetings/${encodeURIComponent(id)}`),
  resolution: (id: string) => request<ResolutionView>('GET', `/api/resolutions/${encodeURIComponent(id)}`),
  changePhase: (id: string, phase: Phase) =>
    request<ResolutionView>('POST', `/api/resolutions/${encodeURIComponent(id)}/phase`, { phase }),
}

/** Whether the session still works (for the live connection's check after a refused upgrade). */
export async function sessionAlive(): Promise<boolean> {
  try {
    await api.me()
    return true
  } catch (error) {
    return !(error instanceof ApiError && error.status === 401)
  }
}
