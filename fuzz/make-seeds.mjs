// Writes the committed seed corpus of the fuzz targets (fuzz/seeds/<target>/)
// from what the real npm clients send: yjs, y-protocols and y-websocket's
// encoding. Run from the repository root after `npm ci --prefix tests/js`:
//   node fuzz/make-seeds.mjs
import { createRequire } from 'node:module'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(path.join(here, '../tests/js/package.json'))
const Y = require('yjs')
const syncProtocol = require('y-protocols/sync')
const awarenessProtocol = require('y-protocols/awareness')
const encoding = require('lib0/encoding')

const seeds = { frame: [], update: [], awareness: [], body: [] }

function frame (write) {
  const encoder = encoding.createEncoder()
  write(encoder)
  return encoding.toUint8Array(encoder)
}

// A resolution as the browser client writes it (y-prosemirror's layout).
const doc = new Y.Doc()
doc.clientID = 1234567
const body = doc.getXmlFragment('body')
const updates = []
doc.on('update', (update) => updates.push(update))
const paragraphs = [
  ['preamble', 'Recordando el Protocolo de Palermo, '],
  ['operative', 'Exhorte les États à protéger les victimes ;'],
  ['subparagraph', 'à identifier les victimes de la traite ;', '1'],
  ['operative', 'Decide permanecer ocupada da questão.']
]
for (const [tag, text, level] of paragraphs) {
  doc.transact(() => {
    const element = new Y.XmlElement(tag)
    element.setAttribute('id', `b${updates.length}`)
    if (level) element.setAttribute('level', level)
    const t = new Y.XmlText()
    element.insert(0, [t])
    body.push([element])
    t.insert(0, text)
    t.format(0, 10, { italic: true })
  })
}
// Keystrokes, a deletion and a format change.
const first = body.get(1).get(0)
for (const c of ' y') first.insert(first.length, c)
first.delete(3, 4)
first.format(0, 5, { bold: true })
const full = Y.encodeStateAsUpdate(doc)

// A second client that saw part of it, then diverged (pending on the server).
const other = new Y.Doc()
other.clientID = 2 ** 53 - 1
Y.applyUpdate(other, updates[0])
other.getXmlFragment('body').insert(0, [new Y.XmlElement('operative')])
const divergent = Y.encodeStateAsUpdate(other, Y.encodeStateVector(doc))

for (const update of [...updates, full, divergent, Y.encodeStateAsUpdate(new Y.Doc())]) {
  seeds.update.push(Uint8Array.from([updates.length % 4, ...update]))
  seeds.frame.push(frame((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeUpdate(e, update) }))
}
seeds.frame.push(frame((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep1(e, other) }))
seeds.frame.push(frame((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep2(e, doc) }))
seeds.frame.push(frame((e) => { encoding.writeVarUint(e, 3) }))
// Several messages in one frame (accepted when receiving).
seeds.frame.push(frame((e) => {
  encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep1(e, doc)
  encoding.writeVarUint(e, 0); syncProtocol.writeUpdate(e, updates[1])
  encoding.writeVarUint(e, 3)
}))
seeds.frame.push(frame((e) => { encoding.writeVarUint(e, 2); encoding.writeVarUint(e, 0); encoding.writeVarString(e, 'denied') }))

// Presence as the editor sets it: user, cursor with relative positions.
const awareness = new awarenessProtocol.Awareness(doc)
awareness.setLocalState({
  user: { name: 'María José Núñez', color: '#d62728', delegation: 'México' },
  cursor: { anchor: Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(first, 2)), head: null }
})
const presence = awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID])
awareness.setLocalState(null)
const removal = awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID])
awareness.destroy()
for (const payload of [presence, removal]) {
  seeds.awareness.push(payload)
  seeds.frame.push(frame((e) => { encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, payload) }))
}
// A nested state, and a count that promises more than it holds.
seeds.awareness.push(frame((e) => {
  encoding.writeVarUint(e, 1); encoding.writeVarUint(e, 7); encoding.writeVarUint(e, 1)
  encoding.writeVarString(e, '{"a":'.repeat(40) + '1' + '}'.repeat(40))
}))
seeds.awareness.push(frame((e) => { encoding.writeVarUint(e, 1000000) }))

// Programs for the body target: element, text, attribute, close, ...
seeds.body.push(Uint8Array.from([0, 0, 3, 1, 8, ...Buffer.from('Recordan'), 1, 0, 0, 1, 2, 7, 1, 49]))
seeds.body.push(Uint8Array.from([0, 3, 0, 4, 0, 2, 3, 2, 3, 0, 120, 5, 0, 6, 0, 7, 1, 50]))
seeds.body.push(Uint8Array.from([3, 1, 5, ...Buffer.from('hello'), 0, 1, 4, 3, 5, ...Buffer.from('émoi')]))

for (const [target, list] of Object.entries(seeds)) {
  const dir = path.join(here, 'seeds', target)
  mkdirSync(dir, { recursive: true })
  for (const seed of list) {
    const name = createHash('sha1').update(seed).digest('hex')
    writeFileSync(path.join(dir, name), seed)
  }
  console.log(`${target}: ${list.length} seeds`)
}
