#!/usr/bin/env bash
# GStreamer's ristsink and ristsrc (gstreamer1.0-plugins-bad) bonded over the bench's three
# links: bonding-addresses name three ports of the receiver's one address, each port taking
# its own link (--netns-ports), and the sender broadcasts every packet on all of them, or
# with BONDING=round-robin sends each on the next link in turn. The receiver sends the
# stream to the probe, which writes $OUT/out.ts. See common.sh for the other settings.
BONDING=${BONDING:-broadcast}
case $BONDING in
broadcast) name=gstreamer ;;
round-robin) name=gstreamer-round-robin ;;
*)
	echo "gstreamer.sh: BONDING must be broadcast or round-robin, not '$BONDING'" >&2
	exit 2
	;;
esac
. "$(dirname "$0")/common.sh"

start_bench --netns-ports 5000
bonds="$RECEIVER:5000,$RECEIVER:5002,$RECEIVER:5004"
start_probe_receiver 6000
start receiver ip netns exec "$RX" gst-launch-1.0 -e ristsrc bonding-addresses="$bonds" \
	receiver-buffer=800 ! rtpmp2tdepay ! udpsink host=127.0.0.1 port=6000
start sender ip netns exec "$TX" gst-launch-1.0 -e udpsrc port=4000 \
	caps="video/mpegts,systemstream=(boolean)true,packetsize=(int)188" ! \
	tsparse set-timestamps=true ! rtpmp2tpay ! \
	ristsink bonding-addresses="$bonds" bonding-method="$BONDING" sender-buffer=800
sleep 1
send_stream 4000
sleep 2
stop_all
report "$name"
