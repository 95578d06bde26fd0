#!/usr/bin/env bash
# Plenary against its peers, on this machine, one server after the other:
#   @y/websocket-server and @hocuspocus/server (npm, bench/peers/package-lock.json),
#   y-sweet (cargo install, where it builds), Plenary on SQLite and on PostgreSQL.
# Every server runs every scenario of plenary-load, each on a fresh start; then
# `plenary-load report` writes one table (each Plenary figure as a ratio to the
# best peer) and a plot.
#
#   bench/compare.sh            the full sizes of issue 9; writes docs/performance/
#   bench/compare.sh --quick    a smoke test (small sizes); writes bench/results/quick/
#   bench/compare.sh --only plenary-sqlite …   reruns only the servers named, keeps the
#                               other servers' results of the last run, and reports again
#
# PostgreSQL: PLENARY_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432),
# a server where the user may create databases; one database per run, dropped after.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

quick=()
out="docs/performance"
results="bench/results/full"
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick); out="bench/results/quick"; results="bench/results/quick" ;;
    --only) only+=("$2"); shift ;;
    *) echo "usage: bench/compare.sh [--quick] [--only LABEL]..." >&2; exit 2 ;;
  esac
  shift
done
wanted() {
  [ ${#only[@]} = 0 ] && return 0
  local label
  for label in "${only[@]}"; do [ "$label" = "$1" ] && return 0; done
  return 1
}
say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
loud() { printf '\n\033[1;33m*** %s ***\033[0m\n\n' "$*" >&2; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
if [ ${#only[@]} = 0 ]; then rm -rf "$results"; fi
mkdir -p "$results" "$out"

say "Building Plenary and plenary-load (release)"
cargo build --release --locked --bin plenary --bin plenary-load
bin="$CARGO_TARGET_DIR/release"

say "Peers from npm (bench/peers, npm ci)"
installed=bench/peers/node_modules/.package-lock.json
if [ ! -e "$installed" ] || [ bench/peers/package-lock.json -nt "$installed" ]; then
  npm ci --prefix bench/peers --no-audit --no-fund --loglevel=error
else
  echo "bench/peers/node_modules is up to date with its lockfile" >&2
fi
if [ ! -e bench/peers/node_modules/better-sqlite3/build/Release/better_sqlite3.node ]; then
  # Hocuspocus's SQLite extension needs better-sqlite3's native module. Its
  # installer would download a prebuilt one; build it from source instead,
  # against the headers of the installed Node.js.
  nodedir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
  npm_config_nodedir="$nodedir" npm rebuild better-sqlite3 --prefix bench/peers --foreground-scripts >"$results/better-sqlite3-build.log" 2>&1 ||
    loud "better-sqlite3 did not build (see $results/better-sqlite3-build.log): Hocuspocus will fail to start"
fi

say "y-sweet (cargo install y-sweet 0.9.1)"
ysweet_root="$CARGO_TARGET_DIR/peers/y-sweet"
ysweet="$ysweet_root/bin/y-sweet"
ysweet_note=""
if [ ! -x "$ysweet" ]; then
  if ! cargo install y-sweet --version 0.9.1 --locked --root "$ysweet_root" \
      --target-dir "$CARGO_TARGET_DIR/peers/y-sweet-build" >"$results/y-sweet-build.log" 2>&1; then
    ysweet_note="y-sweet 0.9.1 did not build here (see $results/y-sweet-build.log); it is left out"
    loud "$ysweet_note"
  fi
fi

say "PostgreSQL"
pg="${PLENARY_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432}"
pg_ok=1
if ! psql "$pg/postgres" -qAtc "select 1" >/dev/null 2>&1; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do psql "$pg/postgres" -qAtc "select 1" >/dev/null 2>&1 && break; sleep 1; done
  fi
  psql "$pg/postgres" -qAtc "select 1" >/dev/null 2>&1 || pg_ok=0
fi
[ "$pg_ok" = 1 ] || loud "PostgreSQL is unreachable at $pg: Plenary on PostgreSQL is left out"
# shellcheck source=bench/plenary.sh
. bench/plenary.sh
trap '[ "$pg_ok" = 1 ] && drop_bench_databases || true' EXIT

# 1000 clients and 1000 servers' sockets at once.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

say "Machine and versions"
{
  echo "## Machine and versions"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); mode: ${quick[*]:-full sizes of issue 9}"
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores; memory: $(free -g | awk '/Mem:/ {print $2}') GiB; kernel $(uname -r)"
  echo "- Plenary $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- server || echo ' (server changed since)'), $(rustc --version)"
  if command -v nm >/dev/null && [ -s server/link-order.txt ]; then
    # How much of the layout of bench/link-order.sh this build still finds (a
    # change of the code or of the toolchain renames functions; rerun it then).
    found=$(nm --defined-only "$bin/plenary" | awk '{print $3}' | sort -u | comm -12 - <(sort -u server/link-order.txt) | wc -l)
    echo "- link order: $found of the $(wc -l <server/link-order.txt) functions of server/link-order.txt are in the binary"
  fi
  echo "- Node.js $(node --version); @y/websocket-server $(node -p "require('./bench/peers/node_modules/@y/websocket-server/package.json').version") (yjs $(node -p "require('./bench/peers/node_modules/@y/websocket-server/node_modules/yjs/package.json').version"), in memory only); @hocuspocus/server $(node -p "require('./bench/peers/node_modules/@hocuspocus/server/package.json').version") with @hocuspocus/extension-sqlite (yjs $(node -p "require('./bench/peers/node_modules/yjs/package.json').version"))"
  if [ -x "$ysweet" ]; then echo "- y-sweet $("$ysweet" version 2>/dev/null | tail -1) (filesystem store, built with cargo install)"; else echo "- y-sweet: $ysweet_note"; fi
  if [ "$pg_ok" = 1 ]; then echo "- PostgreSQL $(psql "$pg/postgres" -qAtc 'show server_version'), local socket over TCP 127.0.0.1; Plenary commits with synchronous_commit=on"; fi
  echo "- SQLite: Plenary's own (sqlx, WAL, synchronous=FULL); the clients and the servers share the machine's $(nproc) cores"
} >"$results/machine-$(date +%s).md"
if [ ${#only[@]} = 0 ]; then
  mv "$results"/machine-*.md "$results/machine.md"
else
  {
    echo
    echo "Rerun of ${only[*]} alone (\`bench/compare.sh --only\`), after the run above; the other servers' figures are from that run:"
    echo
    sed -n '3,$p' "$(ls -t "$results"/machine-*.md | head -1)"
  } >>"$results/machine.md"
  rm -f "$results"/machine-*.md
fi
cat "$results/machine.md" >&2

scenarios=(--scenario plenary --scenario saturation --scenario rooms --scenario cold --scenario storm)
prepare_any="node $root/bench/peers/prepare.mjs any {http} {count} doc"
run() {
  local label=$1; shift
  wanted "$label" || return 0
  say "$label"
  "$bin/plenary-load" "${quick[@]}" --label "$label" --output "$results/$label.json" "$@" ||
    loud "$label: plenary-load failed"
}

peers=()
run y-websocket-server "${scenarios[@]}" --prepare "$prepare_any" \
  --url "ws://127.0.0.1:{port}/{doc}" \
  --spawn "env HOST=127.0.0.1 PORT={port} node $root/bench/peers/node_modules/@y/websocket-server/src/server.js"
peers+=(--peer y-websocket-server)
run hocuspocus "${scenarios[@]}" --prepare "$prepare_any" --dialect hocuspocus \
  --url "ws://127.0.0.1:{port}" \
  --spawn "node $root/bench/peers/hocuspocus.mjs {port} {data}/hocuspocus.db"
peers+=(--peer hocuspocus)
if [ -x "$ysweet" ]; then
  run y-sweet "${scenarios[@]}" --prepare "$prepare_any" \
    --url "ws://127.0.0.1:{port}/d/{doc}/ws/{doc}" \
    --spawn "$ysweet serve {data}/store --host 127.0.0.1 --port {port}"
  peers+=(--peer y-sweet)
fi

plenary=()
run plenary-sqlite "${scenarios[@]}" --prepare "$prepare_plenary" \
  --url "ws://127.0.0.1:{port}/sync/{doc}" \
  --spawn "$(spawn_plenary_sqlite)"
plenary+=(--plenary plenary-sqlite)
if [ "$pg_ok" = 1 ]; then
  run plenary-postgres "${scenarios[@]}" --scenario cross-node --prepare "$prepare_plenary" \
    --url "ws://127.0.0.1:{port}/sync/{doc}" --count-cpu-of postgres \
    --spawn "$(spawn_plenary_postgres)"
  plenary+=(--plenary plenary-postgres)
fi

say "Report"
"$bin/plenary-load" report --results "$results" --out "$out" "${peers[@]}" "${plenary[@]}"
if [ -z "${quick[*]}" ]; then
  mkdir -p "$out/results"
  cp "$results"/*.json "$results/machine.md" "$out/results/"
fi
cat "$out/results.md"
