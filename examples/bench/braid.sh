#!/usr/bin/env bash
# braid send and braid recv over the three links of the bench: the sender binds each link's
# address; the receiver sends the merged stream to the probe, which writes $OUT/out.ts.
# See common.sh for the settings, docs/bench-links.md for the bench and the report.
. "$(dirname "$0")/common.sh"

start_bench
start_probe_receiver 6000
start recv ip netns exec "$RX" "$BRAID" recv --listen "$RECEIVER:9000" \
	--output udp://127.0.0.1:6000 --latency 800 --stats "$OUT/recv.jsonl"
start send ip netns exec "$TX" "$BRAID" send --input udp://127.0.0.1:4000 \
	--to "$RECEIVER:9000" --latency 800 --stats "$OUT/send.jsonl" \
	--link name=lte1,addr=10.200.1.1 --link name=lte2,addr=10.200.2.1 \
	--link name=lte3,addr=10.200.3.1
sleep 1
send_stream 4000
sleep 2
stop_all
report braid
