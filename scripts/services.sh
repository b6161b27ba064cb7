#!/usr/bin/env bash
# Starts the servers the tests and benchmarks use, on 127.0.0.1 and free
# ports, when their programs are installed; source it, then call
# start_services. Everything it starts, stop_services (run on EXIT) stops.
#
#   PostgreSQL: a throwaway cluster (initdb into a temporary folder)
#               -> VPT_TEST_POSTGRES
#   versitygw:  an S3 gateway that checks signatures as R2 does
#               -> VPT_TEST_S3_ENDPOINT, _BUCKET, _ACCESS_KEY, _SECRET_KEY
#
# With VPT_REQUIRE_SERVICES=1 (CI sets it) a missing program is an error
# instead of skipped tests.

services_work=$(mktemp -d "${TMPDIR:-/tmp}/vpt-services.XXXXXX")
services_pids=()
runas=()
PGDATA_DIR=""

stop_services() {
  for pid in "${services_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$PGDATA_DIR" ]; then "${runas[@]}" "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$services_work"
}

missing_service() {
  if [ "${VPT_REQUIRE_SERVICES:-}" = 1 ]; then
    echo "services: VPT_REQUIRE_SERVICES=1: every server must run" >&2
    exit 1
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_postgres() {
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
    echo "services: PostgreSQL not installed; its tests are skipped"
    missing_service
    return 0
  fi
  local pgdir=$services_work/pg port
  mkdir -p "$pgdir"
  port=$(free_port)
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root: an unprivileged user owns the cluster.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown -R postgres "$pgdir"
    chmod 755 "$services_work"
    runas=(runuser -u postgres --)
  fi
  PGDATA_DIR=$pgdir/data
  "${runas[@]}" "$PGBIN/initdb" -D "$PGDATA_DIR" -U vpt --auth=trust -E UTF8 >"$pgdir/initdb.log" 2>&1
  "${runas[@]}" "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$pgdir/log" -w \
    -o "-k $pgdir -h 127.0.0.1 -p $port -c max_connections=200 -c fsync=off" start >/dev/null
  export VPT_TEST_POSTGRES="postgres://vpt@127.0.0.1:$port/postgres?sslmode=disable"
  echo "services: PostgreSQL on 127.0.0.1:$port"
}

start_versitygw() {
  local gw=${VERSITYGW:-$(command -v versitygw || echo "$(go env GOPATH)/bin/versitygw")} port
  if [ ! -x "$gw" ]; then
    echo "services: versitygw not installed (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0); S3 tests are skipped"
    missing_service
    return 0
  fi
  port=$(free_port)
  mkdir -p "$services_work/s3/vpt-test"
  ROOT_ACCESS_KEY=vpt-test-access ROOT_SECRET_KEY=vpt-test-secret-do-not-print \
    "$gw" --port "127.0.0.1:$port" --region auto posix "$services_work/s3" >"$services_work/s3.log" 2>&1 &
  services_pids+=($!)
  for _ in $(seq 50); do
    (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  export VPT_TEST_S3_ENDPOINT="http://127.0.0.1:$port" VPT_TEST_S3_BUCKET=vpt-test \
    VPT_TEST_S3_ACCESS_KEY=vpt-test-access VPT_TEST_S3_SECRET_KEY=vpt-test-secret-do-not-print
  echo "services: versitygw on 127.0.0.1:$port"
}

start_services() {
  trap stop_services EXIT
  start_postgres
  start_versitygw
}
