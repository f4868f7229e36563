#!/usr/bin/env bash
# `make bench`: how many packets per second braid send + braid recv carry on loopback, and
# what CPU they spend per Mbit/s, against two chained plain UDP forwarders (the floor of
# the same two relay hops) measured in the same run; then callgrind instructions per
# packet for both. docs/bench.md says what each figure means.
#
# usage: bash bench/run.sh [BUILD_DIR]
# Knobs (environment): BENCH_RATES, BENCH_SECONDS, BENCH_CPU_RATES, BENCH_CPU_ROUNDS,
# BENCH_LOSS_MAX, BENCH_MAX_COUNT, BENCH_CG_COUNT, BENCH_CG_RATE, BENCH_CONFIGS, and
# BENCH_CALLGRIND=0 to skip valgrind, BENCH_STEP_RUNS, BENCH_STEP_RATES, BENCH_STEP_CONFIGS,
# BENCH_STEP_LATENCY,
# and BENCH_SECTIONS (default "sweep cpu callgrind steps") to run only some parts. A config braid:LINKS:MODE:psk runs both sides with a
# pre-shared key (encrypted sessions).
set -euo pipefail

build=${1:-build}
braid=$build/src/braid
fwd=$build/bench/udp_forward
blast=$build/bench/udp_blast
cpu_ns=$build/bench/cpu_ns

size=1316                                   # 7 MPEG-TS packets, what encoders send
latency=50                                  # braid's budget: short, so a step ends soon
seconds=${BENCH_SECONDS:-2}                 # of traffic per rate step
rates=${BENCH_RATES:-"10000 20000 30000 40000 50000 60000 80000 100000 120000 150000"}
# where CPU is compared: ~21 and ~210 Mbit/s
cpu_rates=${BENCH_CPU_RATES:-${BENCH_CPU_RATE:-"2000 20000"}}
cpu_rounds=${BENCH_CPU_ROUNDS:-5}           # the median of these runs counts
loss_max=${BENCH_LOSS_MAX:-0.1}             # percent; a step passes below it
max_count=${BENCH_MAX_COUNT:-200000}        # datagrams of the unpaced run
cg_count=${BENCH_CG_COUNT:-20000}
cg_rate=${BENCH_CG_RATE:-2000}              # slow enough for two processes under valgrind
# rist:2 = librist's ristsender and ristreceiver (Debian's rist-tools), Simple Profile,
# bonding two peers onto one receiver port (every packet on both, merged by the receiver)
configs=${BENCH_CONFIGS:-"fwd braid:1:broadcast braid:3:broadcast braid:3:roundrobin braid:3:adaptive rist:2"}
# rate steps from idle (links up, no input) to a rate, repeated: what is lost after the
# first 100 ms of each (the links' estimates have that long to find the rate)
step_runs=${BENCH_STEP_RUNS:-10}
step_rates=${BENCH_STEP_RATES:-"9500 28500"}    # 100 and 300 Mbit/s of 1316-byte payloads
step_configs=${BENCH_STEP_CONFIGS:-"braid:2:adaptive braid:3:adaptive braid:2:roundrobin"}
# braid's budget in the steps: the product's default, as a user runs it (with the sweep's
# 50 ms, a moment of CPU starvation on a loaded machine reads as a queue and cuts a pace)
step_latency=${BENCH_STEP_LATENCY:-1000}
sections=${BENCH_SECTIONS:-"sweep cpu callgrind steps"}

if [[ " $configs " == *" rist:"* ]]; then
	for prog in ristsender ristreceiver; do
		command -v "$prog" >/dev/null || {
			echo "bench: $prog is missing: make deps installs rist-tools" >&2
			exit 1
		}
	done
fi
for prog in "$braid" "$fwd" "$blast" "$cpu_ns"; do
	if [ ! -x "$prog" ]; then
		echo "bench: $prog is missing: build first (ninja -C $build)" >&2
		exit 1
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/braid-bench.XXXXXX")
pids=()

# Stops what this script started, by PID, and waits for each.
stop_all() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	pids=()
}

cleanup() {
	stop_all
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Run copies: a rebuild during the run then neither breaks it nor mixes two versions.
mkdir "$tmp/bin"
cp "$braid" "$fwd" "$blast" "$cpu_ns" "$tmp/bin/"
braid=$tmp/bin/braid
fwd=$tmp/bin/udp_forward
blast=$tmp/bin/udp_blast
cpu_ns=$tmp/bin/cpu_ns

# ---- processes ----

# die MESSAGE: stops the whole run, also from a command substitution's subshell.
die() {
	echo "bench: $*" >&2
	kill -TERM $$
	exit 1
}

# start_bg NAME CMD...: CMD in the background, stdout and stderr in $tmp/NAME.{out,err}.
start_bg() {
	local name=$1
	shift
	# Emptied here, not by the child's redirection, so no reader sees the last run's.
	: >"$tmp/$name.out"
	: >"$tmp/$name.err"
	"$@" >>"$tmp/$name.out" 2>>"$tmp/$name.err" &
	bg_pid=$!
	pids+=("$bg_pid")
}

# wait_lines FILE REGEX COUNT SECONDS: until COUNT lines of FILE match, or fail.
wait_lines() {
	local file=$1 re=$2 want=$3 limit=$4 i
	for ((i = 0; i < limit * 50; i++)); do
		if [ "$(grep -c -E -- "$re" "$file" 2>/dev/null || true)" -ge "$want" ]; then
			return 0
		fi
		sleep 0.02
	done
	cat "$file" >&2
	die "timed out waiting for '$re' in $(basename "$file")"
}

# port_of NAME WORD: the port in "... WORD on ADDR:PORT" of $tmp/NAME.err.
port_of() {
	wait_lines "$tmp/$1.err" "$2 on " 1 "$ready_s" || die "no port from $1"
	sed -n "s/.*$2 on .*:\([0-9][0-9]*\).*/\1/p" "$tmp/$1.err" | head -n 1
}

# kv TEXT KEY: the value of KEY=value in a line of key=value pairs.
kv() {
	sed -n "s/.*\<$2=\([^ ]*\).*/\1/p" <<<"$1"
}

# start_middle CONFIG SINK_PORT [callgrind]: the relays between blast and sink. Sets
# mid_pids (first hop, second hop) and in_port; with callgrind, each relay runs under
# valgrind and writes $tmp/cg.hop1 and $tmp/cg.hop2.
start_middle() {
	local config=$1 sink_port=$2 cg=${3:-} w1=() w2=()
	if [ -n "$cg" ]; then
		local toggle=braid_loop_run
		[ "$config" = fwd ] && toggle=forward_loop
		w1=(valgrind --tool=callgrind "--toggle-collect=$toggle"
			"--callgrind-out-file=$tmp/cg.hop1")
		w2=(valgrind --tool=callgrind "--toggle-collect=$toggle"
			"--callgrind-out-file=$tmp/cg.hop2")
	fi
	if [[ $config == rist:* ]]; then
		start_rist "${config#rist:}" "$sink_port"
		return
	fi
	if [ "$config" = fwd ]; then
		start_bg hop2 "${w2[@]}" "$fwd" --listen 127.0.0.1:0 --to "127.0.0.1:$sink_port"
		local hop2_pid=$bg_pid hop2_port
		hop2_port=$(port_of hop2 listening)
		start_bg hop1 "${w1[@]}" "$fwd" --listen 127.0.0.1:0 --to "127.0.0.1:$hop2_port"
		mid_pids=("$bg_pid" "$hop2_pid")
		in_port=$(port_of hop1 listening)
		return
	fi
	local links mode keyed link_args=() key_args=() i
	IFS=: read -r _ links mode keyed <<<"$config"
	if [ "$keyed" = psk ]; then
		printf 'bench pre-shared key' >"$tmp/psk"
		key_args=(--psk "$tmp/psk")
	fi
	start_bg hop2 "${w2[@]}" "$braid" recv --listen 127.0.0.1:0 \
		--output "udp://127.0.0.1:$sink_port" --latency "$latency" \
		--stats "$tmp/recv.json" --stats-interval 1000 "${key_args[@]}"
	local hop2_pid=$bg_pid recv_port
	recv_port=$(port_of hop2 listening)
	for ((i = 1; i <= links; i++)); do
		link_args+=(--link "name=l$i,addr=127.0.0.1")
	done
	start_bg hop1 "${w1[@]}" "$braid" send --input udp://127.0.0.1:0 \
		--to "127.0.0.1:$recv_port" "${link_args[@]}" --mode "$mode" --latency "$latency" \
		"${key_args[@]}"
	mid_pids=("$bg_pid" "$hop2_pid")
	in_port=$(port_of hop1 input)
	# Media pushed before a link's handshake waits, and expires after the latency: start
	# only once every link is up.
	wait_lines "$tmp/hop1.err" '-> healthy' "$links" "$ready_s"
}

# free_rist_port: an even loopback UDP port whose odd neighbour (RTCP) is free too.
free_rist_port() {
	/usr/bin/python3 - <<'PY'
import socket
while True:
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    port = a.getsockname()[1]
    if port % 2 or port > 65534:
        continue
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        b.bind(("127.0.0.1", port + 1))
    except OSError:
        continue
    print(port)
    break
PY
}

# start_rist PEERS SINK_PORT: librist's pair as the relays, the sender bonding PEERS
# paths onto one receiver port, both at their default buffer (1 s: librist loses and
# repeats packets with braid's 50 ms). ristsender holds data until its peers answer.
start_rist() {
	local peers=$1 sink_port=$2 rport urls i
	rport=$(free_rist_port)
	in_port=$(free_rist_port)
	start_bg hop2 ristreceiver -p 0 -S 0 -i "rist://@127.0.0.1:$rport" \
		-o "udp://127.0.0.1:$sink_port"
	local hop2_pid=$bg_pid
	urls="rist://127.0.0.1:$rport"
	for ((i = 1; i < peers; i++)); do
		urls="$urls,rist://127.0.0.1:$rport"
	done
	start_bg hop1 ristsender -p 0 -S 0 -i "udp://@127.0.0.1:$in_port" -o "$urls"
	mid_pids=("$bg_pid" "$hop2_pid")
	wait_lines "$tmp/hop1.err" "peer connected count is [$peers-9]" 1 "$ready_s" ||
		die "ristsender: its $peers peers did not connect"
}

# ticks PID...: user and system clock ticks of the processes together, from /proc (after
# the last ')', as the command name may hold anything).
ticks() {
	local p u=0 s=0 f
	for p in "$@"; do
		f=$(sed 's/.*) //' "/proc/$p/stat")
		read -r -a f <<<"$f"
		u=$((u + f[11]))
		s=$((s + f[12]))
	done
	echo "$u $s"
}

# rcvbuf_errors: datagrams the kernel dropped, machine-wide, because a UDP socket's
# receive buffer was full: how a relay that falls behind loses packets.
rcvbuf_errors() {
	awk '/^Udp:/ { n++; if (n == 1) for (i = 1; i <= NF; i++) col[$i] = i
		       else { print $col["RcvbufErrors"]; exit } }' /proc/net/snmp
}

# trial CONFIG RATE COUNT [callgrind]: one run of COUNT datagrams at RATE (0: unpaced).
# Sets t_unique, t_loss (percent), t_pps (delivered), t_cpu1/t_cpu2 (ns, per hop) and
# t_user/t_sys (clock ticks, both hops), t_overflow (receive buffer drops).
trial() {
	local config=$1 rate=$2 count=$3 cg=${4:-} wait_ms=10000 c0 c1 k0 k1 sink_port
	local a0 b0 a1 b1 r0
	[ -n "$cg" ] && wait_ms=120000
	start_bg sink "$blast" sink --listen 127.0.0.1:0 --count "$count" --idle-ms 500 \
		--wait-ms "$wait_ms" --grace "${grace:-0}"
	local sink_pid=$bg_pid
	sink_port=$(port_of sink sink)
	start_middle "$config" "$sink_port" "$cg"
	c0=$("$cpu_ns" "${mid_pids[@]}")
	k0=$(ticks "${mid_pids[@]}")
	r0=$(rcvbuf_errors)
	"$blast" send --to "127.0.0.1:$in_port" --count "$count" --rate "$rate" \
		--size "$size" >"$tmp/blast.out"
	wait "$sink_pid" || true
	c1=$("$cpu_ns" "${mid_pids[@]}")
	k1=$(ticks "${mid_pids[@]}")
	t_overflow=$(($(rcvbuf_errors) - r0))
	stop_all
	local out
	out=$(cat "$tmp/sink.out")
	t_unique=$(kv "$out" unique)
	t_pps=$(kv "$out" pps)
	t_lost_late=$(kv "$out" lost_after_grace)
	t_lost_late=${t_lost_late:-$count}
	t_unique=${t_unique:-0} # a sink that died reported nothing: all lost
	t_pps=${t_pps:-0}
	t_loss=$(awk -v u="$t_unique" -v n="$count" 'BEGIN { printf "%.3f", 100 * (n - u) / n }')
	read -r a0 b0 <<<"$c0"
	read -r a1 b1 <<<"$c1"
	t_cpu1=$((a1 - a0))
	t_cpu2=$((b1 - b0))
	read -r a0 b0 <<<"$k0"
	read -r a1 b1 <<<"$k1"
	t_user=$((a1 - a0))
	t_sys=$((b1 - b0))
}

passes() {
	awk -v l="$t_loss" -v m="$loss_max" 'BEGIN { exit !(l < m) }'
}

# ---- the sweep ----

declare -A clean_rate clean_mark first_bad max_pps max_loss cpu1 cpu2 cpu_pkts cpu_range user_ticks
declare -A sys_ticks
declare -A cg1 cg2 cg_pkts
cg_done=

# step CONFIG RATE: one step, tried again once if it fails (the machine is shared).
step() {
	local config=$1 rate=$2
	for _ in 1 2; do
		trial "$config" "$rate" $((rate * seconds))
		printf '  %-26s %7s pkt/s -> %7s delivered, loss %6s %%, %s overflowed\n' \
			"$(label "$config")" "$rate" "$t_pps" "$t_loss" "$t_overflow" >&2
		passes && return 0
	done
	return 1
}

# sweep: for each config, the highest offered rate with loss under the limit: all step up
# through $rates taking turns (so they meet the machine's other load at about the same
# time), each leaving at its first failure; then each halves the gap to its first failing
# rate twice. Last, one unpaced run each.
sweep() {
	local rate c i mid active=$configs left
	for c in $configs; do
		clean_rate[$c]=0
		first_bad[$c]=0
	done
	for rate in $rates; do
		left=
		for c in $active; do
			if step "$c" "$rate"; then
				clean_rate[$c]=$rate
				left="$left $c"
			else
				first_bad[$c]=$rate
			fi
		done
		active=$left
		[ -n "$active" ] || break
	done
	for ((i = 0; i < 2; i++)); do
		for c in $configs; do
			mid=$(((clean_rate[$c] + first_bad[$c]) / 2))
			mid=$((mid - mid % 1000)) # whole thousands
			if [ "${clean_rate[$c]}" -eq 0 ] || [ "$mid" -le "${clean_rate[$c]}" ]; then
				continue
			fi
			if step "$c" "$mid"; then
				clean_rate[$c]=$mid
			else
				first_bad[$c]=$mid
			fi
		done
	done
	for c in $configs; do
		clean_mark[$c]=""
		[ "${first_bad[$c]}" -eq 0 ] && clean_mark[$c]="+" # never failed: at least this
		trial "$c" 0 "$max_count"
		max_pps[$c]=$t_pps
		max_loss[$c]=$t_loss
		printf '  %-26s unpaced -> %7s delivered, loss %6s %%, %s overflowed\n' \
			"$(label "$c")" "$t_pps" "$t_loss" "$t_overflow" >&2
	done
}

# cpu_round CONFIG: one run at cpu_rate, kept in $tmp/cpu.CONFIG as a line of
# "total-ns-per-packet hop1-ns hop2-ns packets"; the user/system split is summed.
cpu_round() {
	local config=$1
	local key="$config@$cpu_rate"
	trial "$config" "$cpu_rate" $((cpu_rate * seconds))
	printf '  %-26s %7s pkt/s: CPU %s + %s us/pkt, loss %s %%\n' "$(label "$config")" \
		"$cpu_rate" "$(us_per_pkt "$t_cpu1" "$t_unique")" \
		"$(us_per_pkt "$t_cpu2" "$t_unique")" "$t_loss" >&2
	user_ticks[$key]=$((${user_ticks[$key]:-0} + t_user))
	sys_ticks[$key]=$((${sys_ticks[$key]:-0} + t_sys))
	[ "$t_unique" -gt 0 ] || return 0
	echo "$(((t_cpu1 + t_cpu2) / t_unique)) $t_cpu1 $t_cpu2 $t_unique" >>"$tmp/cpu.$key"
}

# cpu_summary CONFIG: sets cpu1, cpu2 and cpu_pkts of the median round, and cpu_range
# (least and most microseconds per packet). Batching, so the cost of a packet, changes
# with the load the machine's other tenants add: the median stands for the usual case.
cpu_summary() {
	local config=$1 rows
	cpu1[$config]=0
	cpu2[$config]=0
	cpu_pkts[$config]=0
	cpu_range[$config]=-
	[ -s "$tmp/cpu.$config@$cpu_rate" ] || return 0
	rows=$(sort -n "$tmp/cpu.$config@$cpu_rate" | awk '{ row[NR] = $0 }
		END { print row[int((NR + 1) / 2)]; print row[1]; print row[NR] }')
	read -r _ "cpu1[$config]" "cpu2[$config]" "cpu_pkts[$config]" <<<"$(sed -n 1p <<<"$rows")"
	cpu_range[$config]=$(sed -n '2p;3p' <<<"$rows" |
		awk '{ v[NR] = $1 / 1e3 } END { printf "%.1f-%.1f", v[1], v[2] }')
}

label() {
	case $1 in
	fwd) echo "udp_forward x2" ;;
	rist:*) echo "librist ${1#rist:} peers" ;;
	braid:*:psk) local c=${1%:psk}; echo "$(label "$c") psk" ;;
	braid:1:*) echo "braid 1 link ${1##*:}" ;;
	braid:*) local l=${1#braid:}; echo "braid ${l%%:*} links ${1##*:}" ;;
	esac
}

# ratio A B: A / B to two decimals, or - when B is 0.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

# us_per_pkt NS PACKETS: microseconds per packet.
us_per_pkt() {
	awk -v c="$1" -v n="$2" \
		'BEGIN { if (n + 0 == 0) print "-"; else printf "%.2f", c / n / 1e3 }'
}

# pct_per_mbit NS PACKETS: percent of one core per Mbit/s of payload.
pct_per_mbit() {
	awk -v c="$1" -v n="$2" -v s="$size" \
		'BEGIN { if (n + 0 == 0) print "-"
			 else printf "%.4f", 100 * c / 1e9 / (n * s * 8 / 1e6) }'
}

# user_share USER_TICKS SYSTEM_TICKS: the user-space percentage.
user_share() {
	awk -v u="$1" -v s="$2" \
		'BEGIN { if (u + s == 0) print "-"; else printf "%.0f", 100 * u / (u + s) }'
}

# ---- callgrind ----

# callgrind_ir FILE: the instructions counted in the toggled function and below.
callgrind_ir() {
	awk '/^(totals|summary):/ { print $2; exit }' "$1"
}

run_callgrind() {
	local config=$1
	trial "$config" "$cg_rate" "$cg_count" callgrind
	cg1[$config]=$(callgrind_ir "$tmp/cg.hop1")
	cg2[$config]=$(callgrind_ir "$tmp/cg.hop2")
	cg_pkts[$config]=$t_unique
	cg_done=1
	printf '  %-26s callgrind: %s of %s delivered\n' "$(label "$config")" "$t_unique" \
		"$cg_count" >&2
	if ! passes; then
		echo "bench: warning: $t_loss % lost under valgrind: per-packet counts skewed" >&2
	fi
}

# ---- steps from idle ----

declare -A step_clean step_lost step_late step_worst

# run_steps: each config, each rate, step_runs trials from idle; a run is clean when
# nothing is lost after its first 100 ms.
run_steps() {
	local c rate i key sweep_latency=$latency
	latency=$step_latency
	for rate in $step_rates; do
		for c in $step_configs; do
			key="$c@$rate"
			step_clean[$key]=0
			step_lost[$key]=0
			step_late[$key]=0
			step_worst[$key]=0
		done
		for ((i = 0; i < step_runs; i++)); do
			for c in $step_configs; do # taking turns, as in the sweep
				key="$c@$rate"
				grace=$((rate / 10)) trial "$c" "$rate" $((rate * seconds))
				printf '  %-26s step to %6s pkt/s: lost %s, %s after 100 ms, %s overflowed\n' \
					"$(label "$c")" "$rate" "$((rate * seconds - t_unique))" \
					"$t_lost_late" "$t_overflow" >&2
				step_lost[$key]=$((step_lost[$key] + rate * seconds - t_unique))
				step_late[$key]=$((step_late[$key] + t_lost_late))
				[ "$t_lost_late" -eq 0 ] && step_clean[$key]=$((step_clean[$key] + 1))
				[ "$t_lost_late" -gt "${step_worst[$key]}" ] && step_worst[$key]=$t_lost_late
			done
		done
	done
	latency=$sweep_latency
	steps_done=1
}

report_steps() {
	local c rate key
	[ -n "${steps_done:-}" ] || return 0
	printf '\nsteps from idle: %s runs of %s s per rate, links up and idle before each,\n' \
		"$step_runs" "$seconds"
	printf 'braid budget %s ms;\n' "$step_latency"
	printf 'clean = runs with nothing lost after the first 100 ms\n'
	printf '%-26s %9s %8s %12s %16s %14s\n' "pipeline" "pkt/s" "Mbit/s" "clean runs" \
		"lost (all runs)" "after 100 ms"
	for rate in $step_rates; do
		for c in $step_configs; do
			key="$c@$rate"
			printf '%-26s %9s %8s %12s %16s %14s\n' "$(label "$c")" "$rate" \
				"$((rate * size * 8 / 1000000))" \
				"${step_clean[$key]}/$step_runs" "${step_lost[$key]}" \
				"${step_late[$key]} (worst ${step_worst[$key]})"
		done
	done
}

# ---- report ----

report() {
	local base=fwd c both base_cost
	printf '\nbraid bench, %s, %s cores, %s-byte payloads on loopback.\n' \
		"$(date +%F)" "$(nproc)" "$size"
	printf 'Baseline: two chained udp_forward processes measured in this run; '
	printf 'ratio = braid / baseline.\n'
	printf 'hop1 = braid send or the first forwarder, hop2 = braid recv or the second.\n\n'

	report_sweep
	report_cpu
	report_callgrind
}

report_sweep() {
	local base=fwd c rist=rist:2
	[ -n "${sweep_done:-}" ] || return 0
	printf 'throughput (clean = the highest offered rate delivered with loss < %s %%,\n' \
		"$loss_max"
	printf 'in steps of %s s, + when even the last step passed; unpaced = %s datagrams\n' \
		"$seconds" "$max_count"
	printf 'as fast as udp_blast sends them)\n'
	printf '%-26s %12s %6s %9s %14s %8s\n' "pipeline" "clean pkt/s" "ratio" "/librist" \
		"unpaced pkt/s" "loss %"
	for c in $configs; do
		printf '%-26s %12s %6s %9s %14s %8s\n' "$(label "$c")" \
			"${clean_rate[$c]}${clean_mark[$c]}" \
			"$(ratio "${clean_rate[$c]}" "${clean_rate[$base]:-0}")" \
			"$(ratio "${clean_rate[$c]}" "${clean_rate[$rist]:-0}")" "${max_pps[$c]}" \
			"${max_loss[$c]}"
	done

}

report_cpu() {
	local rate
	[ -n "${cpu_done:-}" ] || return 0
	for rate in $cpu_rates; do
		cat "$tmp/cpu_report.$rate"
	done
}

# cpu_table: the CPU table of the rate in cpu_rate.
cpu_table() {
	local base=fwd c both base_cost rist=rist:2 rist_cost
	printf '\nCPU at %s pkt/s (median of %s runs, its hops, and the range of the runs;\n' \
		"$cpu_rate" "$cpu_rounds"
	printf 'user %% = the share of all runs spent in user space)\n'
	printf '%-26s %7s %7s %7s %11s %14s %6s %8s %6s\n' "pipeline" "hop1 us" "hop2 us" \
		"us/pkt" "range" "%core/(Mbit/s)" "ratio" "/librist" "user %"
	for c in $base $configs; do
		cpu_summary "$c"
	done
	base_cost=$(pct_per_mbit "$((cpu1[$base] + cpu2[$base]))" "${cpu_pkts[$base]}")
	rist_cost=$(pct_per_mbit "$((${cpu1[$rist]:-0} + ${cpu2[$rist]:-0}))" "${cpu_pkts[$rist]:-0}")
	for c in $configs; do
		both=$((cpu1[$c] + cpu2[$c]))
		printf '%-26s %7s %7s %7s %11s %14s %6s %8s %6s\n' "$(label "$c")" \
			"$(us_per_pkt "${cpu1[$c]}" "${cpu_pkts[$c]}")" \
			"$(us_per_pkt "${cpu2[$c]}" "${cpu_pkts[$c]}")" \
			"$(us_per_pkt "$both" "${cpu_pkts[$c]}")" "${cpu_range[$c]}" \
			"$(pct_per_mbit "$both" "${cpu_pkts[$c]}")" \
			"$(ratio "$(pct_per_mbit "$both" "${cpu_pkts[$c]}")" "$base_cost")" \
			"$(ratio "$(pct_per_mbit "$both" "${cpu_pkts[$c]}")" "$rist_cost")" \
			"$(user_share "${user_ticks[$c@$cpu_rate]:-0}" "${sys_ticks[$c@$cpu_rate]:-0}")"
	done

}

report_callgrind() {
	local base=fwd c
	[ -n "$cg_done" ] || return 0
	printf '\ncallgrind: user-space instructions per delivered packet in the main loop\n'
	printf '(%s packets at %s pkt/s; syscalls and the kernel are not counted)\n' \
		"$cg_count" "$cg_rate"
	printf '%-26s %8s %8s %8s %6s\n' "pipeline" "hop1" "hop2" "both" "ratio"
	local base_ir
	base_ir=$(awk -v a="${cg1[$base]:-0}" -v b="${cg2[$base]:-0}" -v n="${cg_pkts[$base]:-0}" \
		'BEGIN { if (n + 0 == 0) print 0; else printf "%.0f", (a + b) / n }')
	for c in $configs; do
		[ -n "${cg_pkts[$c]:-}" ] || continue
		awk -v l="$(label "$c")" -v a="${cg1[$c]}" -v b="${cg2[$c]}" -v n="${cg_pkts[$c]}" \
			-v base="$base_ir" 'BEGIN {
				if (n + 0 == 0) { printf "%-26s (nothing delivered)\n", l; exit }
				r = base > 0 ? sprintf("%.1f", (a + b) / n / base) : "-"
				printf "%-26s %8.0f %8.0f %8.0f %6s\n", l, a / n, b / n,
					(a + b) / n, r
			}'
	done
}

# ---- main ----

# has SECTION: whether BENCH_SECTIONS asks for it.
has() {
	[[ " $sections " == *" $1 "* ]]
}

ready_s=10
if has sweep; then
	echo "bench: sweeping rates (${seconds} s each); this takes a few minutes" >&2
	sweep
	sweep_done=1
fi
if has cpu; then
	for cpu_rate in $cpu_rates; do
		echo "bench: CPU at $cpu_rate pkt/s, $cpu_rounds rounds taking turns" >&2
		for ((round = 0; round < cpu_rounds; round++)); do
			for c in $configs; do
				cpu_round "$c"
			done
		done
		cpu_table >"$tmp/cpu_report.$cpu_rate"
	done
	cpu_done=1
fi
if has callgrind && [ "${BENCH_CALLGRIND:-1}" != 0 ] && command -v valgrind >/dev/null; then
	ready_s=60
	echo "bench: callgrind, $cg_count packets at $cg_rate pkt/s per pipeline" >&2
	for c in $configs; do
		case $c in fwd | braid:1:broadcast | braid:3:broadcast | braid:3:adaptive) run_callgrind "$c" ;; esac
	done
	ready_s=10
elif has callgrind && [ "${BENCH_CALLGRIND:-1}" != 0 ]; then
	echo "bench: valgrind not found: no instruction counts" >&2
fi
if has steps; then
	echo "bench: steps from idle, $step_runs runs per rate" >&2
	run_steps
fi
report
report_steps
