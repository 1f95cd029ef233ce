#!/usr/bin/env bash
# Start/stop the scale-out services on loopback for tests and local trials:
# PostgreSQL (Debian package), Redis (Debian package) and a moto S3 server (from the test extra).
#
#   scripts/services.sh start     start what is not running yet (idempotent), then print the exports
#   scripts/services.sh env       print the `export ...` lines only   (eval "$(scripts/services.sh env)")
#   scripts/services.sh status    say what is running
#   scripts/services.sh stop      stop all three and delete their data
#
# Everything lives in one state directory (default /tmp/openlipsync-services) and listens on 127.0.0.1 only.
# These are throw-away test instances: PostgreSQL trusts loopback and runs with fsync off, Redis keeps
# nothing on disk, moto keeps everything in memory. Do not use this script for production (see docs/DEPLOY.md).
# PostgreSQL refuses to run as root, so when run as root its cluster is owned by and run as `postgres`.
set -euo pipefail
cd "$(dirname "$0")/.."

state=${OPENLIPSYNC_SERVICES_DIR:-/tmp/openlipsync-services}
pg_port=${OPENLIPSYNC_PG_PORT:-55432}
redis_port=${OPENLIPSYNC_REDIS_PORT:-56379}
s3_port=${OPENLIPSYNC_S3_PORT:-55900}
db_name=openlipsync
bucket=${OPENLIPSYNC_S3_BUCKET:-openlipsync}
venv_python=${OPENLIPSYNC_PYTHON:-$(pwd)/.venv/bin/python}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)

log() { echo "services: $*" >&2; }

# Run a PostgreSQL binary as the cluster owner (postgres when we are root, ourselves otherwise).
as_pg() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

print_env() {
  cat <<EOF
export DATABASE_URL='postgresql+psycopg://postgres@127.0.0.1:${pg_port}/${db_name}'
export QUEUE_URL='redis://127.0.0.1:${redis_port}/0'
export STORAGE_URL='s3://${bucket}/openlipsync'
export AWS_ENDPOINT_URL_S3='http://127.0.0.1:${s3_port}'
export AWS_ACCESS_KEY_ID='testing'
export AWS_SECRET_ACCESS_KEY='testing'
export AWS_DEFAULT_REGION='us-east-1'
EOF
}

pg_running() { [ -n "$pg_bin" ] && [ -d "$state/pg/data" ] && as_pg "$pg_bin/pg_ctl" -D "$state/pg/data" status >/dev/null 2>&1; }
redis_running() { redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG; }
s3_running() { curl -fsS -o /dev/null "http://127.0.0.1:${s3_port}/moto-api/" 2>/dev/null; }

start_pg() {
  [ -n "$pg_bin" ] || { log "PostgreSQL is not installed (apt-get install postgresql)"; return 1; }
  if pg_running; then log "postgresql already running on 127.0.0.1:$pg_port"; return 0; fi
  mkdir -p "$state/pg"
  [ "$(id -u)" = "0" ] && chown postgres: "$state/pg"
  if [ ! -f "$state/pg/data/PG_VERSION" ]; then
    rm -rf "$state/pg/data"
    as_pg "$pg_bin/initdb" -D "$state/pg/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
  fi
  as_pg mkdir -p "$state/pg/sock"
  # fsync off: a test instance whose data may be lost; it makes migrations and tests much faster.
  as_pg "$pg_bin/pg_ctl" -D "$state/pg/data" -l "$state/pg/server.log" -w -t 60 start \
    -o "-p $pg_port -c listen_addresses=127.0.0.1 -k $state/pg/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
  if ! as_pg "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -tAc \
       "select 1 from pg_database where datname='$db_name'" | grep -q 1; then
    as_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres "$db_name"
  fi
  log "postgresql started on 127.0.0.1:$pg_port (log $state/pg/server.log)"
}

start_redis() {
  if redis_running; then log "redis already running on 127.0.0.1:$redis_port"; return 0; fi
  command -v redis-server >/dev/null || { log "redis-server is not installed (apt-get install redis-server)"; return 1; }
  mkdir -p "$state/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes --dir "$state/redis" \
    --pidfile "$state/redis/redis.pid" --logfile "$state/redis/redis.log" --save '' --appendonly no >/dev/null
  for _ in $(seq 50); do redis_running && break; sleep 0.1; done
  redis_running || { log "redis did not start; see $state/redis/redis.log"; return 1; }
  log "redis started on 127.0.0.1:$redis_port"
}

start_s3() {
  if ! s3_running; then
    [ -x "$(dirname "$venv_python")/moto_server" ] || { log "moto_server missing: scripts/setup.sh --test"; return 1; }
    mkdir -p "$state/s3"
    # setsid: the server outlives this script; stop() kills it by the recorded pid.
    setsid "$(dirname "$venv_python")/moto_server" -H 127.0.0.1 -p "$s3_port" \
      >"$state/s3/moto.log" 2>&1 < /dev/null &
    echo $! >"$state/s3/moto.pid"
    for _ in $(seq 150); do s3_running && break; sleep 0.2; done
    s3_running || { log "moto did not start; see $state/s3/moto.log"; return 1; }
    log "moto S3 started on 127.0.0.1:$s3_port"
  else
    log "moto S3 already running on 127.0.0.1:$s3_port"
  fi
  eval "$(print_env)"
  "$venv_python" - "$bucket" <<'PY'
import sys
import boto3
s3 = boto3.client("s3")
name = sys.argv[1]
if name not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
    s3.create_bucket(Bucket=name)
PY
}

stop_all() {
  if [ -n "$pg_bin" ] && [ -d "$state/pg/data" ]; then
    pg_running && as_pg "$pg_bin/pg_ctl" -D "$state/pg/data" -m fast -w -t 60 stop >/dev/null && log "postgresql stopped"
  fi
  if redis_running; then redis-cli -h 127.0.0.1 -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true; log "redis stopped"; fi
  if [ -f "$state/s3/moto.pid" ]; then
    pid=$(cat "$state/s3/moto.pid")
    # only our moto server: a stale pid file (machine rebooted, pid reused) must not kill anything else
    if grep -q moto_server "/proc/$pid/cmdline" 2>/dev/null && kill "$pid" 2>/dev/null; then
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      log "moto S3 stopped"
    fi
    rm -f "$state/s3/moto.pid"
  fi
  rm -rf "$state"
}

status() {
  pg_running && echo "postgresql: running on 127.0.0.1:$pg_port" || echo "postgresql: stopped"
  redis_running && echo "redis: running on 127.0.0.1:$redis_port" || echo "redis: stopped"
  s3_running && echo "moto s3: running on 127.0.0.1:$s3_port" || echo "moto s3: stopped"
}

case "${1:-}" in
  start) mkdir -p "$state"; chmod 755 "$state"; start_pg; start_redis; start_s3; print_env ;;
  env) print_env ;;
  stop) stop_all ;;
  status) status ;;
  *) echo "usage: $0 start|env|status|stop" >&2; exit 2 ;;
esac
