// Hocuspocus as the comparison runs it: @hocuspocus/server with its official
// SQLite extension (documents stored on change, debounced by Hocuspocus's
// defaults: 2 s, at most 10 s), so that a document survives a restart.
// Usage: node hocuspocus.mjs PORT DATABASE_FILE
import { Server } from '@hocuspocus/server'
import { SQLite } from '@hocuspocus/extension-sqlite'

const [port, database] = process.argv.slice(2)
const server = new Server({
  port: Number(port),
  address: '127.0.0.1',
  quiet: true,
  extensions: [new SQLite({ database })]
})
await server.listen()
