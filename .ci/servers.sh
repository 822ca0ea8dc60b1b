#!/usr/bin/env bash
# Throwaway real servers for the distributed tests (issue 6): a PostgreSQL cluster and a
# Dask scheduler with 2 single-threaded workers, all on 127.0.0.1 ports picked free.
#
#   bash .ci/servers.sh [start]   start what is not running yet, write .ci/servers.env, print it
#   bash .ci/servers.sh stop      stop everything this script started and remove its /tmp state
#   bash .ci/servers.sh status    print .ci/servers.env if the servers are up; exit 1 if not
#   source .ci/servers.sh         start (in a child bash), then export the variables here
#
# .ci/servers.env holds only the servers that came up:
#   export SWEEPER_TEST_POSTGRES_URL=postgresql+psycopg://sweeper:PW@127.0.0.1:PORT/sweeper
#   export SWEEPER_TEST_DASK_SCHEDULER=tcp://127.0.0.1:PORT
# A server that cannot be had (no apt-get, no root, no .venv with dask) is reported on stderr
# and left out; tests/distributed/conftest.py then skips its tests with that reason. `start`
# exits 0 whenever it has finished, whatever came up, so CI goes on to the tests.
#
# Idempotent: `start` on healthy servers only reprints the file; a half-dead set is
# stopped and started anew. Each start makes a new cluster with a new random password.
#
# Environment: SWEEPER_SERVERS_DIR (state, default /tmp/sweeper-servers), SWEEPER_PG_ROOT
# (where Debian puts PostgreSQL's versions, default /usr/lib/postgresql),
# SWEEPER_DASK_WORKERS (default 2), SWEEPER_DASK_NANNY (1 = workers under a nanny, which
# restarts a killed worker process; default 1), PYTHON (default .venv/bin/python).

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    # Sourced: do the work in a child bash so that its `set -e` and `exit` never touch the
    # caller's shell, then export what came up.
    bash "${BASH_SOURCE[0]}" start \
        || echo "servers.sh: start failed; the distributed tests will skip" >&2
    _sweeper_env="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/servers.env"
    # shellcheck disable=SC1090
    [[ -f "$_sweeper_env" ]] && source "$_sweeper_env"
    unset _sweeper_env
    return 0
fi

set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ENV_FILE="$ROOT/.ci/servers.env"
STATE="${SWEEPER_SERVERS_DIR:-/tmp/sweeper-servers}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
N_WORKERS="${SWEEPER_DASK_WORKERS:-2}"
NANNY="${SWEEPER_DASK_NANNY:-1}"
PG_USER=sweeper
PG_DB=sweeper

log() { echo "servers.sh: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

free_port() {
    python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
EOF
}

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Run a command as the postgres OS user when we are root (postgres refuses to run as root).
as_pg() {
    if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bindir() {
    local d
    d="$(ls -d "${SWEEPER_PG_ROOT:-/usr/lib/postgresql}"/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [[ -n "$d" && -x "$d/initdb" ]]; then echo "$d"; return 0; fi
    d="$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")"
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then echo "$d"; fi
    return 0  # an empty answer means absent
}

# ---------------------------------------------------------------- PostgreSQL
pg_install() {
    [[ -n "$(pg_bindir)" ]] && return 0
    if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null; then
        log "PostgreSQL absent and cannot be installed here (needs root and apt-get)"
        return 1
    fi
    local t0; t0="$(now)"
    log "installing PostgreSQL from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    local apt=(apt-get -y -q -o DPkg::Lock::Timeout=120)
    if ! "${apt[@]}" install postgresql >"$STATE/apt.log" 2>&1; then
        "${apt[@]}" update >>"$STATE/apt.log" 2>&1 || true
        if ! "${apt[@]}" install postgresql >>"$STATE/apt.log" 2>&1; then
            log "apt-get install postgresql failed (see $STATE/apt.log)"
            tail -n 5 "$STATE/apt.log" >&2 || true
            return 1
        fi
    fi
    log "PostgreSQL installed in $(since "$t0") s"
    [[ -n "$(pg_bindir)" ]]
}

pg_healthy() {
    local bin; bin="$(pg_bindir)"
    [[ -n "$bin" && -f "$STATE/pg.port" ]] \
        && "$bin/pg_isready" -q -h 127.0.0.1 -p "$(cat "$STATE/pg.port")" -t 2
}

pg_start() {
    local t0 bin port password
    t0="$(now)"
    pg_install || return 1
    bin="$(pg_bindir)"
    pg_stop
    mkdir -p "$STATE/pg" "$STATE/pg-sock"
    [[ $EUID -eq 0 ]] && chown postgres:postgres "$STATE/pg" "$STATE/pg-sock"
    chmod 700 "$STATE/pg"
    # Local socket: trust (the script's own admin connection). TCP: password only.
    as_pg "$bin/initdb" -D "$STATE/pg/data" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 -E UTF8 --no-sync >"$STATE/pg-initdb.log" 2>&1 \
        || { log "initdb failed:"; tail -n 5 "$STATE/pg-initdb.log" >&2; return 1; }
    port="$(free_port)" || return 1
    # A throwaway cluster: durability off, connections enough for many test clients.
    if ! as_pg "$bin/pg_ctl" -D "$STATE/pg/data" -l "$STATE/pg/server.log" -w -t 30 \
        -o "-p $port -k $STATE/pg-sock -c listen_addresses=127.0.0.1 -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null; then
        log "pg_ctl start failed:"; tail -n 5 "$STATE/pg/server.log" >&2 || true
        return 1
    fi
    echo "$port" >"$STATE/pg.port"
    password="$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
    as_pg "$bin/psql" -q -v ON_ERROR_STOP=1 -h "$STATE/pg-sock" -p "$port" -U postgres -d postgres \
        -c "CREATE ROLE $PG_USER LOGIN PASSWORD '$password'" \
        -c "CREATE DATABASE $PG_DB OWNER $PG_USER" >/dev/null \
        || { log "creating the role and the database failed"; return 1; }
    echo "postgresql+psycopg://$PG_USER:$password@127.0.0.1:$port/$PG_DB" >"$STATE/pg.url"
    log "PostgreSQL $("$bin/postgres" -V | awk '{print $3}') on 127.0.0.1:$port in $(since "$t0") s"
}

pg_stop() {
    local bin; bin="$(pg_bindir)"
    if [[ -n "$bin" && -f "$STATE/pg/data/postmaster.pid" ]]; then
        as_pg "$bin/pg_ctl" -D "$STATE/pg/data" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$STATE/pg" "$STATE/pg-sock" "$STATE/pg.port" "$STATE/pg.url"
}

# ---------------------------------------------------------------- Dask
dask_healthy() {
    [[ -f "$STATE/dask.address" ]] && alive "$STATE/dask-scheduler.pid" || return 1
    local i
    for i in $(seq 1 "$N_WORKERS"); do alive "$STATE/dask-worker-$i.pid" || return 1; done
    dask_wait "$(cat "$STATE/dask.address")" 10 >/dev/null 2>&1
}

# Wait until the scheduler at $1 has N_WORKERS workers, for at most $2 seconds.
dask_wait() {
    "$PYTHON" - "$1" "$2" "$N_WORKERS" <<'EOF'
import sys, time
from distributed import Client
address, timeout, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + timeout
with Client(address, timeout=timeout) as client:
    client.wait_for_workers(n, timeout=max(1.0, deadline - time.monotonic()))
    workers = client.scheduler_info(n_workers=-1)["workers"]
    print(f"{len(workers)} workers:", " ".join(sorted(workers)))
EOF
}

# Start a command in its own session (so `stop` can end its whole process group, nanny and
# worker alike), logging to $STATE/$1.log and recording its pid in $STATE/$1.pid.
spawn() {
    local name="$1"; shift
    setsid "$@" >"$STATE/$name.log" 2>&1 </dev/null &
    echo $! >"$STATE/$name.pid"
}

# Start the scheduler and the workers without waiting for them (PostgreSQL starts meanwhile).
dask_spawn() {
    local port address i nanny_flag
    if [[ ! -x "$PYTHON" ]] || ! "$PYTHON" -c "import importlib.util as u, sys
sys.exit(u.find_spec('distributed') is None)"; then
        log "no dask in $PYTHON: install the extra with: .venv/bin/pip install -e '.[distributed]'"
        return 1
    fi
    dask_stop
    mkdir -p "$STATE/dask" || return 1
    port="$(free_port)" || return 1
    address="tcp://127.0.0.1:$port"
    echo "$address" >"$STATE/dask.starting"
    # Tasks import sweeper (and the study's module): the scheduler and the workers run from
    # the project's .venv, started from the project's root. A nanny restarts a worker process
    # that dies (SIGKILL, OOM); without one, a dead worker stays gone.
    spawn dask-scheduler env TF_CPP_MIN_LOG_LEVEL=2 "$PYTHON" -m distributed.cli.dask_scheduler \
        --host 127.0.0.1 --port "$port" --no-dashboard --dashboard-address 127.0.0.1:0
    [[ "$NANNY" == 1 ]] && nanny_flag=--nanny || nanny_flag=--no-nanny
    for i in $(seq 1 "$N_WORKERS"); do
        spawn "dask-worker-$i" env TF_CPP_MIN_LOG_LEVEL=2 "$PYTHON" -m distributed.cli.dask_worker \
            "$address" --host 127.0.0.1 --nthreads 1 "$nanny_flag" --no-dashboard \
            --dashboard-address 127.0.0.1:0 --name "w$i" --local-directory "$STATE/dask" \
            --memory-limit 0
    done
}

# Wait for the workers of dask_spawn; on success the address goes to $STATE/dask.address.
dask_ready() {
    local t0="$1" address
    address="$(cat "$STATE/dask.starting")"
    rm -f "$STATE/dask.starting"
    if ! dask_wait "$address" 120 >"$STATE/dask-wait.log" 2>&1; then
        log "Dask did not get $N_WORKERS workers in 120 s:"
        tail -n 5 "$STATE/dask-wait.log" "$STATE/dask-scheduler.log" >&2 || true
        dask_stop
        return 1
    fi
    echo "$address" >"$STATE/dask.address"
    log "Dask scheduler $address with $(cat "$STATE/dask-wait.log") in $(since "$t0") s"
}

dask_stop() {
    local pidfile pid
    for pidfile in "$STATE"/dask-*.pid; do
        [[ -f "$pidfile" ]] || continue
        pid="$(cat "$pidfile")"
        # setsid made each one a process-group leader: end the group (nanny and its worker).
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for pidfile in "$STATE"/dask-*.pid; do
        [[ -f "$pidfile" ]] || continue
        pid="$(cat "$pidfile")"
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
        rm -f "$pidfile"
    done
    rm -rf "$STATE/dask" "$STATE/dask.address" "$STATE/dask.starting"
}

# ---------------------------------------------------------------- env file
write_env() {
    {
        echo "# Written by .ci/servers.sh $(date -u +%FT%TZ); removed by '.ci/servers.sh stop'."
        [[ -f "$STATE/pg.url" ]] && echo "export SWEEPER_TEST_POSTGRES_URL=$(cat "$STATE/pg.url")"
        [[ -f "$STATE/dask.address" ]] \
            && echo "export SWEEPER_TEST_DASK_SCHEDULER=$(cat "$STATE/dask.address")"
        true
    } >"$ENV_FILE"
    cat "$ENV_FILE"
}

# pg_start and dask_spawn run on the left of `||`, where bash ignores `set -e`: each step
# that can fail there returns 1 by hand.
start() {
    local t0; t0="$(now)"
    mkdir -p "$STATE"
    cd "$ROOT"
    local dask=spawned
    if dask_healthy; then log "Dask already up"; dask=up; else dask_spawn || dask=absent; fi
    if pg_healthy && [[ -f "$STATE/pg.url" ]]; then
        log "PostgreSQL already up"
    else
        pg_start || pg_stop
    fi
    if [[ $dask == spawned ]]; then dask_ready "$t0" || true; fi
    write_env
    log "servers ready in $(since "$t0") s"
}

stop() {
    dask_stop
    pg_stop
    rm -f "$ENV_FILE"
    [[ -d "$STATE" ]] && rm -rf "$STATE"
    log "stopped"
}

status() {
    local ok=0
    pg_healthy || { log "PostgreSQL down"; ok=1; }
    dask_healthy || { log "Dask down"; ok=1; }
    [[ -f "$ENV_FILE" ]] && cat "$ENV_FILE"
    return "$ok"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
