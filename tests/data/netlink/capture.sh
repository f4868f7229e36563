#!/usr/bin/env bash
# Captures, once, the netlink requests iproute2's tc sends for the qdisc settings braid builds
# itself (tests/unit/test_netlink.c compares braid's messages with these byte for byte).
# Not run by the tests: the .hex files beside it are the stored result. Run as root; it makes
# one scratch namespace with a veth pair, and removes it on exit. tc may be refused by the
# kernel (netem is absent on some machines) but its request bytes are what count.
# Each .hex file: a comment line with the tc command, then the request as hex bytes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
ns="braidcap$$"
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
ip -n "$ns" link add cap0 type veth peer name cap1
ip -n "$ns" link set cap0 up

capture() { # NAME TC-ARGS...
	local name=$1
	shift
	{
		echo "# tc $* (iproute2 $(tc -V | sed 's/.*iproute2-\([^,]*\).*/\1/'))"
		ip netns exec "$ns" strace -xx -e trace=sendmsg -e write=3 tc "$@" 2>&1 |
			sed -n 's/^ | [0-9a-f]\{5\}  \(.\{49\}\).*/\1/p' | tr -s ' ' | sed 's/^ //'
	} >"$here/$name.hex"
}

capture tbf_add qdisc add dev cap0 root tbf rate 4mbit burst 10kb limit 30kb
capture tbf_change qdisc change dev cap0 root tbf rate 2500kbit burst 8kb limit 20kb
capture tbf_rate64 qdisc add dev cap0 root tbf rate 40gbit burst 1mb limit 2mb
capture netem_ge qdisc add dev cap0 root netem limit 1000 delay 40ms 5ms loss gemodel 1% 10% 100% 0%
capture netem_random qdisc add dev cap0 root netem limit 2000 delay 20ms loss random 1%
