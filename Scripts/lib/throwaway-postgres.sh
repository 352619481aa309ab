# Sourced by the benchmark scripts: a throwaway PostgreSQL in $WORK/pg on a free port (initdb
# and pg_ctl as the postgres user when root, as PostgreSQL refuses to run as root), unless
# PACER_BENCH_DB names one (postgres://…, no query). Sets DB; `stop_postgres` and
# `start_postgres` take it down and up again (the queue benchmark's outage);
# `cleanup_postgres` stops it for good. Needs WORK (a folder the postgres user can write).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

start_postgres() {
    as_postgres "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w \
        -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
}
stop_postgres() { as_postgres "$PG_BIN/pg_ctl" -D "$WORK/pg" -m fast -w stop >/dev/null; }
cleanup_postgres() {
    [ -n "${PG_STARTED:-}" ] && as_postgres "$PG_BIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
}

DB=${PACER_BENCH_DB:-}
if [ -z "$DB" ]; then
    PG_PORT=$(free_port)
    as_postgres "$PG_BIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
    start_postgres
    PG_STARTED=1
    DB="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
fi
