# How the benchmark scripts run Plenary, sourced by bench/compare.sh and
# bench/link-order.sh. Needs $root (the checkout), $bin (the release build)
# and $pg (a PostgreSQL server URL without a database).

# The benchmark signs in as this secretariat account (created at the first
# start) and lifts the per-account limits, which exist for a venue of real
# people, not for one script driving a thousand simulated clients.
export PLENARY_ADMIN_EMAIL=bench@plenary.example PLENARY_ADMIN_PASSWORD='a benchmark password'
plenary_limits="--connections-per-account 100000 --sync-rate 1000000 --api-rate 100000"
prepare_plenary="node $root/bench/peers/prepare.mjs plenary {http} {count} doc"

# plenary-load's --spawn command for Plenary on SQLite, and on a database of
# its own on PostgreSQL; $1, if given, runs the server (valgrind …).
spawn_plenary_sqlite() {
  echo "env PLENARY_LOG=warn ${1:-} $bin/plenary serve --bind 127.0.0.1:{port} --database-url sqlite://{data}/plenary.db $plenary_limits"
}
spawn_plenary_postgres() {
  echo "sh -c \"psql $pg/postgres -qc 'create database {run}' >/dev/null 2>&1; exec env PLENARY_LOG=warn ${1:-} $bin/plenary serve --bind 127.0.0.1:{port} --database-url $pg/{run} $plenary_limits\""
}

# Drops the databases the PostgreSQL runs created (load_…).
drop_bench_databases() {
  psql "$pg/postgres" -qAtc "select datname from pg_database where datname like 'load\_%'" 2>/dev/null |
    while read -r name; do psql "$pg/postgres" -qc "drop database if exists $name with (force)" >/dev/null 2>&1 || true; done || true
}
