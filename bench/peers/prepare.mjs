// Creates the documents a load run needs and prints their names, one per
// line (and `token T` first when the server needs one).
// Usage: node prepare.mjs plenary|any HTTP_BASE COUNT PREFIX
const [server, base, countText, prefix = 'load'] = process.argv.slice(2)
const count = Number(countText)

// Plenary's /sync needs a session and a resolution per document (the
// scripting contract of docs/architecture.md): sign in as the secretariat the
// benchmark server was started with, create a meeting, a delegation and one
// resolution per document, and hand back the token and the resolution ids.
async function preparePlenary (base, count, prefix) {
  const call = async (method, path, body, token) => {
    for (let attempt = 0; ; attempt++) {
      const response = await fetch(base + path, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body ? JSON.stringify(body) : undefined
      })
      if (response.status === 429 && attempt < 20) {
        const wait = Number(response.headers.get('retry-after') || 1)
        await new Promise((resolve) => setTimeout(resolve, wait * 1000))
        continue
      }
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
      return response.json()
    }
  }
  const { token } = await call('POST', '/api/auth/login', {
    email: process.env.PLENARY_ADMIN_EMAIL || 'bench@plenary.example',
    password: process.env.PLENARY_ADMIN_PASSWORD || 'a benchmark password'
  })
  const meeting = await call('POST', '/api/meetings', { title: `Load run ${prefix}` }, token)
  const delegation = await call('POST', `/api/meetings/${meeting.id}/delegations`, { name: 'Benchmark' }, token)
  const names = []
  for (let index = 0; index < count; index++) {
    const resolution = await call('POST', `/api/meetings/${meeting.id}/resolutions`,
      { title: `${prefix} ${index}`, sponsors: [delegation.id] }, token)
    names.push(resolution.id)
  }
  return { token, names }
}

function names (count, prefix) {
  return Array.from({ length: count }, (_, index) => `${prefix}-${index}`)
}

const prepared = server === 'plenary'
  ? await preparePlenary(base, count, prefix)
  : { token: null, names: names(count, prefix) }
if (prepared.token) console.log(`token ${prepared.token}`)
console.log(prepared.names.join('\n'))
