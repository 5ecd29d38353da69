#!/usr/bin/env bash
# Instructions per conversation, counted by valgrind's callgrind: deterministic, so a change's
# effect can be measured on a noisy machine (BENCHMARKS.md, "Profiling").
#
#   bench/callgrind.sh [engine|baseline] [SECONDS]
#
# Starts the server (the engine with bench/config.yaml, or the bare baseline) under callgrind,
# warms it up, zeroes the counters, drives it with 4 users for SECONDS (default 15), dumps, and
# prints the server's instructions per conversation. The profile is left in
# target/callgrind/<target>.out.1 for `callgrind_annotate --inclusive=yes`.
#
# Needs valgrind and curl, and a release build (`cargo build --release`); run it from the
# project's root. Valgrind's CPU has no SHA extensions, so SHA-256 (message digests, OTP MACs)
# counts several times what it costs on hardware that has them.
set -euo pipefail

target=${1:-engine}
seconds=${2:-15}
bin=${COLLOQUY:-target/release/colloquy}
out=target/callgrind
port=$((20000 + RANDOM % 10000))
mkdir -p "$out"
rm -f "$out/$target.out"*

case $target in
  engine) args=(serve --config bench/config.yaml --addr "127.0.0.1:$port") ;;
  baseline) args=(bench --serve-baseline "127.0.0.1:$port") ;;
  *) echo "usage: $0 [engine|baseline] [SECONDS]" >&2; exit 2 ;;
esac

valgrind --tool=callgrind --callgrind-out-file="$out/$target.out" "$bin" "${args[@]}" \
  > "$out/$target.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/healthz" > /dev/null && break
  sleep 0.3
done

drive() {
  "$bin" bench --url "http://127.0.0.1:$port" --url-target "$target" --no-baseline \
    --users 4 --warmup 0s --duration "$1" 2> /dev/null
}
drive 2s > /dev/null
callgrind_control --zero "$server" > /dev/null 2>&1
drive "${seconds}s" > "$out/$target.driver.txt"
callgrind_control --dump "$server" > /dev/null 2>&1
sleep 1

total=$(callgrind_annotate "$out/$target.out.1" 2> /dev/null \
  | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
conversations=$(grep -oE '[0-9]+ conversations' "$out/$target.driver.txt" | grep -oE '[0-9]+')
echo "$target: $total instructions for $conversations conversations:" \
  "$((total / conversations)) per conversation (profile: $out/$target.out.1)"
