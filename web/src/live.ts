// The live body of one resolution: a Y.Doc synced over the standard
// y-websocket provider, authenticated by the session cookie (same origin),
// with our own reconnect policy and a truthful connection state.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import * as authProtocol from 'y-protocols/auth'
import type * as decoding from 'lib0/decoding'
import type { Awareness } from 'y-protocols/awareness'
import { isRefusal, reconnectDelay } from './backoff'
import { model } from './model'

export type ConnectionState =
  | { kind: 'connecting' }
  | { kind: 'syncing' }
  | { kind: 'synced' }
  | { kind: 'offline'; retryAt: number }
  | { kind: 'stopped'; why: 'session' | 'refused'; code: number; reason: string }

/** The y-protocols message type of an auth message (`[2, 0, reason]`: permission denied). */
const MESSAGE_AUTH = 2

/** `ws://HOST/sync` for this page's origin. */
export function syncUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/sync`
}

export interface LiveOptions {
  /** Announce ourselves in the awareness (the projector stays out of the presence list). */
  presence?: Record<string, unknown>
  /** Checks whether the session still works (after a connection that never opened). */
  sessionAlive?: () => Promise<boolean>
}

export class LiveDocument {
  readonly doc = new Y.Doc()
  readonly provider: WebsocketProvider
  readonly body: Y.XmlFragment
  private state: ConnectionState = { kind: 'connecting' }
  private attempt = 0
  private timer: ReturnType<typeof setTimeout> | null = null
  private opened = false
  private destroyed = false
  private everSynced = false
  private stateListeners = new Set<(state: ConnectionState) => void>()
  private deniedListeners = new Set<(reason: string) => void>()
  private firstSync: Promise<void>
  private resolveFirstSync!: () => void

  constructor(
    readonly resolutionId: string,
    private readonly options: LiveOptions = {},
  ) {
    this.body = this.doc.getXmlFragment(model.root)
    this.firstSync = new Promise((resolve) => (this.resolveFirstSync = resolve))
    this.provider = new WebsocketProvider(syncUrl(window.location), resolutionId, this.doc, {
      connect: false,
      // No params: the HttpOnly session cookie authenticates the socket.
      // Never sync through BroadcastChannel: a read-only tab must not pass
      // local edits to a writer tab behind the server's back, and the server
      // relays every change to our other tabs anyway.
      disableBc: true,
      // Every close comes to us (the 'closed' event): we back off with
      // jitter, and stop for good on the server's refusals.
      shouldReconnect: () => false,
    })
    this.provider.messageHandlers[MESSAGE_AUTH] = (_encoder, decoder: decoding.Decoder) => {
      authProtocol.readAuthMessage(decoder, this.doc, (_doc, reason) => {
        for (const listener of this.deniedListeners) listener(reason)
      })
    }
    this.provider.on('status', ({ status }) => {
      if (this.destroyed) return
      if (status === 'connecting') this.setState({ kind: 'connecting' })
      if (status === 'connected') {
        this.opened = true
        this.setState({ kind: 'syncing' })
      }
    })
    this.provider.on('sync', (synced: boolean) => {
      if (this.destroyed) return
      if (synced) {
        this.attempt = 0
        this.everSynced = true
        this.setState({ kind: 'synced' })
        this.resolveFirstSync()
      } else if (this.provider.wsconnected) {
        this.setState({ kind: 'syncing' })
      }
    })
    this.provider.on('connection-close', (event) => {
      // A close without an event is the provider's own watchdog (nothing
      // heard for 30 s): take over its reconnect too.
      if (event === null && !this.destroyed && this.provider.shouldConnect) {
        this.provider.shouldConnect = false
        this.scheduleReconnect()
      }
    })
    this.provider.on('closed', ({ code, reason }) => {
      if (this.destroyed) return
      void this.onClosed(code, reason)
    })
    if (options.presence) this.provider.awareness.setLocalStateField('user', options.presence)
    window.addEventListener('online', this.onOnline)
  }

  get awareness(): Awareness {
    return this.provider.awareness
  }

  /** Whether the first sync with the server has completed (ever). */
  get hasSynced(): boolean {
    return this.everSynced
  }

  connect(): void {
    this.setState({ kind: 'connecting' })
    this.provider.connect()
  }

  /** Resolves once the server's copy has been received the first time. */
  synced(): Promise<void> {
    return this.firstSync
  }

  connectionState(): ConnectionState {
    return this.state
  }

  onState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener)
    listener(this.state)
    return () => this.stateListeners.delete(listener)
  }

  /** The server refused a write (`[2, 0, reason]`): this connection is read-only. */
  onPermissionDenied(listener: (reason: string) => void): () => void {
    this.deniedListeners.add(listener)
    return () => this.deniedListeners.delete(listener)
  }

  /** Whether this client has ever changed the document (its edits may be unconfirmed). */
  hasLocalChanges(): boolean {
    return Y.decodeStateVector(Y.encodeStateVector(this.doc)).has(this.doc.clientID)
  }

  reconnectNow(): void {
    if (this.destroyed || this.state.kind === 'stopped') return
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.connect()
  }

  destroy(): void {
    this.destroyed = true
    if (this.timer) clearTimeout(this.timer)
    window.removeEventListener('online', this.onOnline)
    this.provider.destroy()
    this.doc.destroy()
  }

  private onOnline = () => {
    if (this.state.kind === 'offline') this.reconnectNow()
  }

  private async onClosed(code: number, reason: string): Promise<void> {
    if (isRefusal(code)) {
      this.setState({ kind: 'stopped', why: code === 4401 ? 'session' : 'refused', code, reason })
      return
    }
    // A socket that never opened may have been refused before the upgrade
    // (401: the session expired); the browser does not tell us, so ask.
    const wasOpened = this.opened
    this.opened = false
    if (!wasOpened && this.options.sessionAlive) {
      const alive = await this.options.sessionAlive().catch(() => true)
      if (this.destroyed) return
      if (!alive) {
        this.setState({ kind: 'stopped', why: 'session', code: 4401, reason })
        return
      }
    }
    this.scheduleReconnect()
  }

  private scheduleReconnect(): void {
    if (this.destroyed) return
    if (this.timer) clearTimeout(this.timer)
    const delay = reconnectDelay(this.attempt)
    this.attempt += 1
    this.setState({ kind: 'offline', retryAt: Date.now() + delay })
    this.timer = setTimeout(() => {
      this.timer = null
      if (!this.destroyed) this.connect()
    }, delay)
  }

  private setState(state: ConnectionState): void {
    this.state = state
    for (const listener of this.stateListeners) listener(state)
  }
}
