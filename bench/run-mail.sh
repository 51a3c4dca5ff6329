#!/usr/bin/env bash
# S4 (issue 3): mail through the built-in SMTP listener into stored tickets, on SQLite (and
# PostgreSQL unless --no-postgres): throughput and latency at 1/8/32 connections, the slowest
# single mail of the corpus plus generated worst cases, and the server's peak RSS (VmHWM).
# Usage: bench/run-mail.sh [--messages N] [--no-postgres]        (default N = 30000)
# Loopback only; every load is bounded in messages and seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
N=30000; PGRUN=1
while [ $# -gt 0 ]; do
  case "$1" in
    --messages) N="$2"; shift 2 ;;
    --no-postgres) PGRUN=0; shift ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done
cargo build --release -q -p tend -p tend-bench
T=${CARGO_TARGET_DIR:-target}/release/tend; B=${CARGO_TARGET_DIR:-target}/release/tend-bench
W=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r); commit $(git rev-parse --short HEAD); $(date -u +%FT%TZ)"
peak() { awk '/VmHWM/{printf "%.1f MB", $2/1024}' "/proc/$1/status"; }

run_suite() { # name, store args...
  local name=$1; shift
  $T "$@" mail add-mailbox --address support@shop.test --name Support >/dev/null
  local port=$((19000 + RANDOM % 1000)) http=$((20000 + RANDOM % 1000))
  TEND_LOG=error TEND_SMTP_LISTEN="127.0.0.1:$port" $T "$@" serve --listen "127.0.0.1:$http" >"$W/$name.log" 2>&1 & local pid=$!; pids+=("$pid")
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  for c in 1 8 32; do
    $B smtp --addr "127.0.0.1:$port" --connections $c --messages "$N" --max-seconds 30
    echo "[$name] server peak RSS so far: $(peak $pid)"
  done
  $B smtp --addr "127.0.0.1:$port" --pathological crates/tend-mail/tests/corpus
  echo "[$name] server peak RSS: $(peak $pid)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "== SQLite"
run_suite sqlite --data-dir "$W/sqlite"
if [ "$PGRUN" = 1 ]; then
  echo "== PostgreSQL"
  db="tend_bench_mail_$$"; url="postgres://postgres@127.0.0.1:5432/$db"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db"
  run_suite postgres --database-url "$url"
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $db WITH (FORCE)"
fi
