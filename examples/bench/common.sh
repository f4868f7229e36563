# Shared by the example runs in this folder; sourced, not run. Settings from the
# environment:
#   BRAID     the braid program (default: braid on PATH)
#   SCENARIO  the links (default: cellular.scn beside this file)
#   SECONDS_TO_RUN  how long the stream lasts (default 40)
#   PREFIX    the namespaces' prefix (default bench)
#   OUT       where logs, statistics and the received stream go (default: a new temporary
#             folder, printed at the end)
# Needs root. Every process is started in the background, remembered by PID and ended by
# PID on exit, the programs inside the namespaces before the bench itself, which then
# removes its namespaces.
set -eu

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BRAID=${BRAID:-braid}
SCENARIO=${SCENARIO:-$here/cellular.scn}
SECONDS_TO_RUN=${SECONDS_TO_RUN:-40}
PREFIX=${PREFIX:-bench}
OUT=${OUT:-$(mktemp -d /tmp/braid-bench-XXXXXX)}
TX=$PREFIX-tx
RX=$PREFIX-rx
RECEIVER=10.202.0.1
pids=()

stop_all() {
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	pids=()
}
trap stop_all EXIT

# start NAME COMMAND...: runs it in the background, its output in $OUT/NAME.log
start() {
	local name=$1
	shift
	"$@" >"$OUT/$name.log" 2>&1 &
	pids+=($!)
}

# start_bench [EXTRA OPTIONS]: the namespaces up, their ready line in $OUT/ready.json
start_bench() {
	local i
	"$BRAID" emu --netns --scenario "$SCENARIO" --netns-prefix "$PREFIX" \
		--stats "$OUT/emu.jsonl" --stats-interval 250 "$@" >"$OUT/ready.json" 2>"$OUT/emu.log" &
	pids+=($!)
	for ((i = 0; i < 200; i++)); do
		[ -s "$OUT/ready.json" ] && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench: braid emu --netns did not come up:" >&2
	cat "$OUT/emu.log" >&2
	exit 1
}

# start_probe_receiver PORT: the system under test's output, expected as UDP on
# 127.0.0.1:PORT in the receiver namespace, goes to $OUT/out.ts and its probes are logged
# (probe.py). Start it before the receiver, so nothing it sends is missed.
start_probe_receiver() {
	start probe-rx ip netns exec "$RX" /usr/bin/python3 "$here/probe.py" receive "$1" \
		"$OUT/out.ts" "$OUT/probe-rx.log"
}

# The test stream: MPEG-TS at 2 Mbit/s from ffmpeg in 1128-byte datagrams, to which the
# probe adds its packet (1316 bytes, seven TS packets, as encoders send), to 127.0.0.1:PORT
# inside the sender namespace, for SECONDS_TO_RUN seconds; returns when it has been sent.
send_stream() {
	start probe-tx ip netns exec "$TX" /usr/bin/python3 "$here/probe.py" send 3999 "$1" \
		"$OUT/probe-tx.log"
	sleep 0.3
	ip netns exec "$TX" ffmpeg -hide_banner -loglevel error -re \
		-f lavfi -i "testsrc=size=640x360:rate=25" -t "$SECONDS_TO_RUN" \
		-c:v mpeg2video -b:v 2M -maxrate 2M -bufsize 1M -g 25 \
		-f mpegts "udp://127.0.0.1:3999?pkt_size=1128"
}

# The report (report.py, docs/bench-links.md): a table, then one JSON line.
report() {
	/usr/bin/python3 "$here/report.py" "$1" "$SECONDS_TO_RUN" "$OUT"
}
