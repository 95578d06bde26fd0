#!/usr/bin/env bash
# Rewrites server/link-order.txt: the functions the release server runs while
# it starts and serves every scenario of plenary-load, hottest first, which
# build.rs hands to the linker (lld's --symbol-ordering-file) so that they lie
# together in the executable.
#
# Why: the kernel maps a page of code with its 64 KiB neighbourhood, so code
# that runs scattered over the 12 MB text segment makes most of the text
# resident. Laid out together it takes a few megabytes (docs/performance/README.md).
#
#   bench/link-order.sh      about 10 minutes; needs valgrind, Node.js, and
#                            PostgreSQL (PLENARY_BENCH_DATABASE_URL) for its paths
#
# The list names symbols; a symbol a later change removes or renames is
# skipped by the linker, a new one lands in the cold part. Rerun it after large
# changes of the server, of its dependencies or of the Rust toolchain (which
# renames every function); bench/compare.sh reports how much of the list the
# binary it measures still has.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
say "Building Plenary and plenary-load (release)"
cargo build --release --locked --bin plenary --bin plenary-load
bin="$CARGO_TARGET_DIR/release"
installed=bench/peers/node_modules/.package-lock.json
[ -e "$installed" ] || npm ci --prefix bench/peers --no-audit --no-fund --loglevel=error

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
pg="${PLENARY_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432}"
# shellcheck source=bench/plenary.sh
. bench/plenary.sh
# Every function the server runs, by name as the executable's symbol table
# spells it (mangled), with the instructions it ran itself.
grind="valgrind --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no --dump-line=no --callgrind-out-file=$work/callgrind.%p"
load() {
  "$bin/plenary-load" --quick --prepare "$prepare_plenary" \
    --url "ws://127.0.0.1:{port}/sync/{doc}" --output "$work/$1.json" --label "$1" "${@:2}" ||
    echo "plenary-load failed under valgrind ($1); its functions still count" >&2
}
scenarios=(--scenario plenary --scenario saturation --scenario rooms --scenario cold --scenario storm)

say "SQLite, under callgrind"
load sqlite "${scenarios[@]}" \
  --spawn "$(spawn_plenary_sqlite "$grind")"

if psql "$pg/postgres" -qAtc "select 1" >/dev/null 2>&1; then
  say "PostgreSQL, under callgrind"
  load postgres "${scenarios[@]}" --scenario cross-node \
    --spawn "$(spawn_plenary_postgres "$grind")"
  drop_bench_databases
else
  echo "*** PostgreSQL is unreachable at $pg: its code paths are left out of the order ***" >&2
fi

say "Writing server/link-order.txt"
python3 - "$work" "$(readlink -f "$bin/plenary")" >"$work/order.txt" <<'EOF'
import collections, glob, sys
# Each server process (one per scenario and restart) has its own file. The
# functions every process ran (the start, the sync protocol) come first; the
# rest is grouped by the set of processes that ran it, so that the code of
# one run lies in few places; hottest first within a group.
cost = collections.Counter()
ran_in = collections.defaultdict(set)
executable = sys.argv[2]
for index, path in enumerate(sorted(glob.glob(sys.argv[1] + "/callgrind.*"))):
    name, skip, ours = None, False, False
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("ob="):
                ours = line[3:].strip() == executable
            elif line.startswith("fn="):
                # Only the executable's own functions (not libc's, not ld.so's).
                name = line[3:].strip() if ours else None
                if name is not None:
                    ran_in[name].add(index)
            elif line.startswith("calls="):
                skip = True  # the next line is the call's inclusive cost
            elif line[:1].isdigit() or line[:1] in "+-*":
                if skip:
                    skip = False
                elif name is not None:
                    fields = line.split()
                    if len(fields) >= 2 and fields[1].isdigit():
                        cost[name] += int(fields[1])
# Stretches of code without a symbol have no name the linker knows.
names = [n for n in ran_in if n and " " not in n and "@" not in n and not n.startswith("0x") and "'" not in n]
names.sort(key=lambda n: (-len(ran_in[n]), sorted(ran_in[n]), -cost[n], n))
print("\n".join(names))
EOF
# A run in which the server did not run under valgrind leaves the committed
# list as it was.
count=$(wc -l <"$work/order.txt")
if [ "$count" -lt 1000 ]; then
  echo "only $count functions were recorded: server/link-order.txt is left as it was" >&2
  exit 1
fi
mv "$work/order.txt" server/link-order.txt
echo "$count functions" >&2
