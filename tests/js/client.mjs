// A real Yjs client (npm `yjs` + `y-websocket` over `ws`) driven by the Rust
// end-to-end tests, one JSON command per line on stdin, one JSON answer per
// line on stdout.
//
//   {"id":1,"op":"connect","url":"ws://127.0.0.1:PORT/sync","room":"doc","params":{}}
//       answers once the first sync completes
//   {"id":2,"op":"eval","expr":"doc.getText('t').toString()"}
//       evaluates with `doc`, `Y`, `provider`, `awareness`, `helpers` in scope
//   {"id":3,"op":"until","expr":"...", "timeout": 20000}
//       answers when the expression becomes truthy (re-checked on every
//       document change, awareness change and close), or fails on timeout
//   {"id":4,"op":"disconnect"} / {"op":"connect"} again / {"op":"exit"}
//
// Close events are recorded in `closes` ({code, reason}) for `until` to test.

import * as readline from 'node:readline'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

const doc = new Y.Doc()
let provider = null
let awareness = null
const closes = []
const waiters = new Set()

const helpers = {
  // Text of every element of an XmlFragment, one line per element, "tag: text".
  xmlLines (name) {
    return doc.getXmlFragment(name).toArray().map((node) =>
      node instanceof Y.XmlElement ? `${node.nodeName}: ${node.toArray().map((t) => t.toString()).join('')}` : node.toString())
  },
  insertParagraph (name, index, tag, text) {
    const element = new Y.XmlElement(tag)
    element.insert(0, [new Y.XmlText(text)])
    doc.getXmlFragment(name).insert(index, [element])
  },
  others () {
    return [...awareness.getStates().entries()]
      .filter(([client]) => client !== doc.clientID)
      .map(([client, state]) => ({ client, ...state }))
  },
}

const evaluate = (expr) =>
  // eslint-disable-next-line no-new-func
  new Function('doc', 'Y', 'provider', 'awareness', 'helpers', 'closes', `return (${expr})`)(
    doc, Y, provider, awareness, helpers, closes)

const send = (message) => process.stdout.write(JSON.stringify(message) + '\n')

const recheck = () => {
  for (const waiter of [...waiters]) waiter()
}
doc.on('update', recheck)

const connect = (command) => new Promise((resolve, reject) => {
  if (provider) provider.destroy()
  provider = new WebsocketProvider(command.url, command.room, doc, {
    WebSocketPolyfill: WebSocket,
    params: command.params || {},
    disableBc: true,
    maxBackoffTime: 500,
  })
  awareness = provider.awareness
  awareness.on('change', recheck)
  awareness.on('update', recheck)
  provider.on('connection-close', (event) => {
    if (event) closes.push({ code: event.code, reason: event.reason.toString() })
    recheck()
  })
  const timer = setTimeout(() => reject(new Error('not synced within 20 s')), 20000)
  provider.once('sync', (synced) => {
    if (synced) {
      clearTimeout(timer)
      resolve(true)
    }
  })
})

const until = (command) => new Promise((resolve, reject) => {
  let timer = null
  const check = () => {
    let value
    try {
      value = evaluate(command.expr)
    } catch (error) {
      value = false
    }
    if (value) {
      waiters.delete(check)
      clearTimeout(timer)
      resolve(value)
    }
  }
  timer = setTimeout(() => {
    waiters.delete(check)
    let last
    try { last = evaluate(command.expr) } catch (error) { last = String(error) }
    reject(new Error(`timed out waiting for ${command.expr} (last value: ${JSON.stringify(last)})`))
  }, command.timeout || 20000)
  waiters.add(check)
  check()
})

const handle = async (command) => {
  switch (command.op) {
    case 'connect': return connect(command)
    case 'eval': return evaluate(command.expr)
    case 'until': return until(command)
    case 'disconnect':
      provider.disconnect()
      return true
    case 'reconnect':
      provider.connect()
      return true
    case 'exit':
      if (provider) provider.destroy()
      setTimeout(() => process.exit(0), 10)
      return true
    default: throw new Error(`unknown op ${command.op}`)
  }
}

const lines = readline.createInterface({ input: process.stdin })
lines.on('line', (line) => {
  let command
  try {
    command = JSON.parse(line)
  } catch (error) {
    send({ id: null, error: `bad command: ${error}` })
    return
  }
  handle(command).then(
    (value) => send({ id: command.id, ok: value === undefined ? null : value }),
    (error) => send({ id: command.id, error: String(error && error.stack || error) }))
})
lines.on('close', () => process.exit(0))
