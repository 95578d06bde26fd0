#!/usr/bin/env bash
# Runs schemathesis (PyPI) against a running Plenary's OpenAPI document with a
# signed-in session: no 500, every response matches the schema.
#   tests/scripts/schemathesis.sh http://127.0.0.1:8080 EMAIL PASSWORD [MAX_EXAMPLES]
# (start the server with a high PLENARY_API_RATE so the rate limit does not
# answer instead of the routes). tests/run runs it against a demo server.
# Installs the pinned versions of schemathesis-requirements.txt in a venv.
set -euo pipefail
base="${1:?base URL}"; email="${2:?email}"; password="${3:?password}"; examples="${4:-20}"
here="$(cd "$(dirname "$0")" && pwd)"
venv="${TMPDIR:-/tmp}/plenary-schemathesis"
if ! cmp -s "$here/schemathesis-requirements.txt" "$venv/requirements.txt" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r "$here/schemathesis-requirements.txt"
  cp "$here/schemathesis-requirements.txt" "$venv/requirements.txt"
fi
token=$(curl -sf -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}" "$base/api/auth/login" |
  python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])')
# Logging out would end the session the run uses.
exec "$venv/bin/schemathesis" run "$base/api/openapi.json" -H "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance --max-examples "$examples" \
  --exclude-path /api/auth/logout --exclude-path /api/auth/logout-all --exclude-path /api/auth/password
