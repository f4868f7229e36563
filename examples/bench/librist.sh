#!/usr/bin/env bash
# librist's ristsender and ristreceiver (Debian's rist-tools) bonded over the bench's three
# links: the sender sends to three ports of the receiver's one address, each port taking
# its own link (--netns-ports), with the stream duplicated on every link (weight 0), in the
# simple profile (-p 0: RTP the bench can read; the main profile wraps it in GRE). The
# receiver's output goes to the probe, which writes $OUT/out.ts. See common.sh for the
# settings.
. "$(dirname "$0")/common.sh"

start_bench --netns-ports 5000
peers_in="rist://@$RECEIVER:5000,rist://@$RECEIVER:5002,rist://@$RECEIVER:5004"
peers_out="rist://$RECEIVER:5000?weight=0,rist://$RECEIVER:5002?weight=0,rist://$RECEIVER:5004?weight=0"
start_probe_receiver 6000
start receiver ip netns exec "$RX" ristreceiver -p 0 -b 800 -i "$peers_in" \
	-o udp://127.0.0.1:6000 -S 1000
start sender ip netns exec "$TX" ristsender -p 0 -b 800 -i udp://127.0.0.1:4000 \
	-o "$peers_out" -S 1000
sleep 1
send_stream 4000
sleep 2
stop_all
report librist
