#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster on loopback, created in a temp dir
# and stopped by its pid when the command ends, also on failure or Ctrl-C.
#   scripts/with-postgres.sh .venv/bin/python -m pytest
set -euo pipefail

pgbin=$(compgen -G "/usr/lib/postgresql/*/bin" | sort -V | tail -n 1)
[[ -x "$pgbin/initdb" ]] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

dir=$(mktemp -d /tmp/careloop-pg.XXXXXX)
chmod 755 "$dir"
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
  chown postgres: "$dir"  # initdb refuses to run as root
  as_pg=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

stop() {
  local pid
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    pid=$(head -n 1 "$dir/data/postmaster.pid")
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap stop EXIT INT TERM

"${as_pg[@]}" "$pgbin/initdb" -D "$dir/data" -U careloop -A trust -E UTF8 --locale=C.UTF-8 \
  --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
# Durability is off for tests (the cluster lives for one run); benchmarks that measure
# durable commits set CARELOOP_PG_DURABLE=1.
options="-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200"
if [[ "${CARELOOP_PG_DURABLE:-0}" != 1 ]]; then
  options="$options -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
options="$options ${CARELOOP_PG_OPTIONS:-}"  # e.g. for profiling a benchmark
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o "$options" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
"${as_pg[@]}" "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U careloop careloop

export CARELOOP_DATABASE_URL="postgresql://careloop@127.0.0.1:$port/careloop"
# Production mode (any database but SQLite) requires explicit keys: give it throwaway ones.
export CARELOOP_SECRET_KEY="${CARELOOP_SECRET_KEY:-test-$(python3 -c 'import secrets; print(secrets.token_urlsafe(40))')}"
export CARELOOP_FIELD_KEY="${CARELOOP_FIELD_KEY:-$(python3 -c 'import base64, secrets; print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())')}"
echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
"$@"
