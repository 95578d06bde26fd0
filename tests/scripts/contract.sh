#!/usr/bin/env bash
# The scripting contract of docs/architecture.md, exercised with nothing but
# curl (and sed), as a secretariat's script would: sign in, create a meeting,
# a delegation, an account and a resolution, and move it through its phases.
#
#   PLENARY_EMAIL=... PLENARY_PASSWORD=... tests/scripts/contract.sh http://127.0.0.1:8080
set -euo pipefail
base=${1:?usage: contract.sh BASE_URL}
email=${PLENARY_EMAIL:?set PLENARY_EMAIL}
password=${PLENARY_PASSWORD:?set PLENARY_PASSWORD}

# The value of a string field of a flat JSON answer.
field() { sed -nE "s/.*\"$1\":\"([^\"]*)\".*/\1/p"; }

# curl that fails on HTTP errors and shows the problem+json body when it does.
call() {
  local method=$1 path=$2 body=${3:-}
  local out status
  out=$(mktemp)
  status=$(curl -sS -o "$out" -w '%{http_code}' -X "$method" "$base$path" \
    -H "Authorization: Bearer ${token:-}" -H 'Content-Type: application/json' \
    ${body:+--data "$body"})
  if [ "${status:0:1}" != 2 ]; then
    echo "$method $path -> $status: $(cat "$out")" >&2
    rm -f "$out"
    return 1
  fi
  cat "$out"
  rm -f "$out"
}

token=$(call POST /api/auth/login "{\"email\":\"$email\",\"password\":\"$password\"}" | field token)
[ -n "$token" ] || { echo "no token" >&2; exit 1; }

meeting=$(call POST /api/meetings '{"title":"7th Annual Meeting of the Network of Women Parliamentarians of the Americas","theme":"Human trafficking"}' | field id)
mexico=$(call POST "/api/meetings/$meeting/delegations" '{"name":"Mexico"}' | field id)
brazil=$(call POST "/api/meetings/$meeting/delegations" '{"name":"Brazil"}' | field id)
delegate=$(call POST /api/users "{\"email\":\"claudia.$RANDOM@congreso.example\",\"name\":\"Claudia Hernández\",\"password\":\"a long enough password\",\"role\":\"delegate\",\"delegation_id\":\"$mexico\"}" | field id)
resolution=$(call POST "/api/meetings/$meeting/resolutions" "{\"title\":\"Trafficking in persons\",\"sponsors\":[\"$mexico\",\"$brazil\"]}" | field id)
echo "meeting $meeting, delegations $mexico $brazil, delegate $delegate, resolution $resolution"
echo "live document: ${base/http/ws}/sync/$resolution?token=…"

for phase in tabled voting adopted; do
  call POST "/api/resolutions/$resolution/phase" "{\"phase\":\"$phase\"}" | grep -q "\"phase\":\"$phase\""
  echo "resolution $phase"
done
call GET "/api/meetings/$meeting" | grep -q '"phase":"adopted"'
call POST /api/auth/logout >/dev/null
echo "contract OK"
