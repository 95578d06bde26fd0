// Creates the documents a load run needs and prints their names, one per
// line (and `token T` first when the server needs one).
// Usage: node prepare.mjs plenary|any HTTP_BASE COUNT PREFIX
const [server, base, countText, prefix = 'load'] = process.argv.slice(2)
const count = Number(countText)

// Plenary's /sync is open today and takes any valid name. Once it requires
// a session (DESIGN.md, "The scripting contract"), fill this in:
//   POST {base}/api/auth/login {"email","password"} -> {"token"}
//   POST {base}/api/meetings {"title"} -> {"id"}
//   POST {base}/api/meetings/{id}/resolutions {"title","sponsors":[]} -> {"id"}
// and return the token and the resolution ids.
async function preparePlenary (base, count, prefix) {
  void base
  return { token: null, names: names(count, prefix) }
}

function names (count, prefix) {
  return Array.from({ length: count }, (_, index) => `${prefix}-${index}`)
}

const prepared = server === 'plenary'
  ? await preparePlenary(base, count, prefix)
  : { token: null, names: names(count, prefix) }
if (prepared.token) console.log(`token ${prepared.token}`)
console.log(prepared.names.join('\n'))
