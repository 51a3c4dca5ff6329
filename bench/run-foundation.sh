#!/usr/bin/env bash
# Foundation benchmarks (issue 2): S1 ticket create over HTTP at 1/16/64 clients, S2 agent queue
# first page, import speed, server RSS idle and loaded — on SQLite and on PostgreSQL.
# Usage: bench/run-foundation.sh [--tickets N] [--no-postgres]      (default N = 100000)
# Everything runs on 127.0.0.1; every load is bounded in requests and seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
N=100000; PGRUN=1
while [ $# -gt 0 ]; do
  case "$1" in
    --tickets) N="$2"; shift 2 ;;
    --no-postgres) PGRUN=0; shift ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done
cargo build --release -q -p tend -p tend-bench
T=target/release/tend; B=target/release/tend-bench
OUT=bench/out; mkdir -p "$OUT"; W=$(mktemp -d)
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r); commit $(git rev-parse --short HEAD); $(date -u +%FT%TZ)"
echo "generating $N tickets"; $T generate --tickets "$N" > "$W/data.jsonl"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
rss() { awk '/VmRSS/{printf "%.1f MB", $2/1024}' "/proc/$1/status"; }

run_suite() { # name, store args...
  local name=$1; shift
  $T "$@" user add --email bench@tend.test --name Bench --role admin >/dev/null 2>&1 || true
  local tok; tok=$($T "$@" token create --email bench@tend.test)
  local port=$((18000 + RANDOM % 1000))
  $T "$@" serve --listen "127.0.0.1:$port" >"$W/$name.log" 2>&1 & local pid=$!; pids+=("$pid")
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  echo "[$name] RSS idle after start: $(rss $pid)"
  local g; g=$(curl -s -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/api/v1/groups" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
  for q in "status=new,open&group_id=$g" "status=new,open,pending,on_hold&group_id=$g" "status=open" ""; do
    $B --url "http://127.0.0.1:$port" --token "$tok" get --name "S2 [$name] ?$q" --path "/api/v1/tickets?$q&limit=25" --clients 1 --requests 1000 --max-seconds 20
  done
  echo "[$name] RSS after queue pages: $(rss $pid)"
  for c in 1 16 64; do
    $B --url "http://127.0.0.1:$port" --token "$tok" create --clients $c --requests 20000 --max-seconds 15
  done
  echo "[$name] RSS after creates: $(rss $pid)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "== SQLite"
/usr/bin/time -f "import wall %e s, max RSS %M KB" $T --data-dir "$W/sqlite" import "$W/data.jsonl"
run_suite sqlite --data-dir "$W/sqlite"

if [ "$PGRUN" = 1 ]; then
  echo "== PostgreSQL"
  db="tend_bench_$$"; url="postgres://postgres@127.0.0.1:5432/$db"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db"
  /usr/bin/time -f "import wall %e s, max RSS %M KB" $T --database-url "$url" import "$W/data.jsonl"
  psql -h 127.0.0.1 -U postgres -d "$db" -qc "VACUUM ANALYZE"
  run_suite postgres --database-url "$url"
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $db WITH (FORCE)"
fi
