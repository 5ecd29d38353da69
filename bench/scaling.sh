#!/usr/bin/env bash
# Where throughput bends: the engine on the memory store and on Redis at 1, 16, 64, 256 and
# 1024 simulated users, one `colloquy bench` run each, printed as a Markdown table
# (BENCHMARKS.md, "Scaling").
#
#   bench/scaling.sh [SECONDS] [WARMUP_SECONDS]      # default 5 and 2
#
# Starts a Redis of its own on a free port (nothing kept on disk) and stops it at the end.
# Needs a release build (`cargo build --release`), redis-server and python3; run it from the
# project's root.
set -euo pipefail

seconds=${1:-5}
warmup=${2:-2}
bin=${COLLOQUY:-target/release/colloquy}
work=$(mktemp -d)
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
  --logfile "$work/redis.log" --dir "$work"
for _ in $(seq 1 50); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
sed "s|  store: memory|  store: redis\n  redis:\n    url: redis://127.0.0.1:$port/0|" \
  bench/config.yaml >"$work/redis.yaml"

echo "| users | store | turns/s | turn p50 ms | turn p99 ms | engine peak RSS MiB | engine cores | Redis round trips per turn | errors |"
echo "|---|---|---|---|---|---|---|---|---|"
for users in 1 16 64 256 1024; do
  for store in memory redis; do
    config=()
    if [ "$store" = redis ]; then
      redis-cli -p "$port" flushall >/dev/null
      config=(--config "$work/redis.yaml")
    fi
    "$bin" bench --no-baseline "${config[@]}" --users "$users" --duration "${seconds}s" \
      --warmup "${warmup}s" --json "$work/$store-$users.json" >"$work/$store-$users.txt" 2>&1 ||
      { cat "$work/$store-$users.txt" >&2; exit 1; }
    python3 - "$work/$store-$users.json" "$users" "$store" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
engine = report["rounds"][0]["engine"]
trips = engine.get("redis_round_trips_per_turn")
errors = engine["error_count"] + engine["warmup_errors"]
print(f"| {sys.argv[2]} | {sys.argv[3]} | {engine['turns_per_s']:,.0f} | "
      f"{engine['turn_latency']['p50_ms']:.2f} | {engine['turn_latency']['p99_ms']:.2f} | "
      f"{engine['server_peak_rss_mib']:.0f} | {engine['server_cpu_cores']:.2f} | "
      f"{'–' if trips is None else f'{trips:.2f}'} | {errors} |")
EOF
  done
done
