# A PostgreSQL of a benchmark's own (scripts/services), on HS_PG_PORT or the
# caller's default port, in DIR; sets `server`, the DSN without a dbname.
# The caller's EXIT trap stops it (scripts/services stop DIR).
#   . bench/lib/bench_postgres.sh; bench_postgres NAME DIR DEFAULT_PORT
bench_postgres() {
  local name=$1 dir=$2
  export HS_PG_PORT=${HS_PG_PORT:-$3}
  eval "$(HS_SERVICES=postgres "$repo/scripts/services" start "$dir")"
  [[ -n ${HS_TEST_PG_DSN:-} ]] || { echo "$name: PostgreSQL did not start" >&2; exit 1; }
  server=${HS_TEST_PG_DSN% dbname=*}
}
