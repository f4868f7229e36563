#!/usr/bin/env bash
# How fast the simulator runs: a 1-hour stream at 5 Mbit/s over three links (by default
# scenarios/combined.scn: OU rates and Gilbert-Elliott loss on every link, broadcast, so
# every packet crosses all three), in a release build. Prints the wall time and the
# sim-to-real ratio for each scenario; fails when one takes a minute or more.
#
# usage: bash bench/sim_speed.sh [BUILD_DIR]
#   BUILD_DIR defaults to build-release, set up with --buildtype=release when missing.
# Knobs (environment): SIM_SECONDS (simulated stream, default 3600), SIM_SCENARIOS
# (default "combined failover"), SIM_LIMIT (wall seconds allowed, default 60).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-release}
seconds=${SIM_SECONDS:-3600}
scenarios=${SIM_SCENARIOS:-"combined failover"}
limit=${SIM_LIMIT:-60}

if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$root" --buildtype=release >/dev/null
fi
ninja -C "$build" src/app/braid >/dev/null
braid=$build/src/app/braid

status=0
printf '%-10s %10s %10s %10s %14s %12s\n' scenario simulated_s wall_s sim/real residual_loss \
	packets_sent
for name in $scenarios; do
	json=$("$braid" sim --scenario "$root/scenarios/$name.scn" --duration "$seconds" \
		2>/dev/null) || true
	line=$(printf '%s' "$json" | /usr/bin/python3 -c '
import json, sys
m = json.load(sys.stdin)
print("%.1f %.2f %.0f %.6f %d" % (m["simulated_s"], m["wall"]["seconds"],
      m["wall"]["sim_to_real"], m["stream"]["residual_loss"], m["stream"]["sent"]))')
	read -r sim wall ratio loss sent <<<"$line"
	printf '%-10s %10s %10s %10s %14s %12s\n' "$name" "$sim" "$wall" "${ratio}x" "$loss" "$sent"
	if /usr/bin/python3 -c "import sys; sys.exit(0 if $wall < $limit else 1)"; then
		:
	else
		echo "sim_speed: $name took ${wall}s, the limit is ${limit}s" >&2
		status=1
	fi
done
exit $status
