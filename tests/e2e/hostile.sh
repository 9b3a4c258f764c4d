#!/usr/bin/env bash
# testbed-timeout: 600
# A hostile guest (guest/hostile.sh): a root program in L2 (guest/vfpoke) unbinds VF 1
# of net0 from its driver and drives its registers through sysfs: DRIVER_OK with no
# receive queue while L1 sends to its tap (issue 12, fault 5), DRIVER_OK cleared and set
# again without a reset (fault 6), a control queue kept full (fault 7), 2000 refused
# feature sets (fault 8), 30 FLRs, garbage in the common config and MSI-X table; and it
# storms a second PF's NumVFs. Meanwhile L1 pings the PF and VF 0. Pass: the attacked
# VF's I/O thread stays idle (bound below), the control socket answers during the
# flood, not one ping to the PF or VF 0 is lost, the refused-feature lines are
# rate-limited, VF 1 works again once the guest's driver resets it, vpf exits 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/sriov.sh"

N=2 PF_MAC=52:54:00:12:34:56
IDLE_PCT_MAX=10     # the attacked VF's I/O thread, % of one CPU (spinning: ~100)
CTL_LATENCY_MS_MAX=5000

sriov_l1_setup
con=$LOGDIR/l2-console.log ctl=$(mktemp -d)/ctl.sock
run_vm_bg "$con" 580 --memory 512M --ctl "$ctl" \
	--net "tap=$PF_TAP,mac=$PF_MAC,total-vfs=$N,vf-tap=vpfvf%d" \
	--net "tap=vpfp1,mac=52:54:00:12:35:00,total-vfs=2,vf-tap=vpfw%d" \
	--cmdline "$(l2_cmdline hostile)"
await 'VPF-SRIOV: ready' 300 "the guest did not get ready"
vpf_pid=$(vpf_pid)
for i in 0 1; do vf_tap_setup "vpfvf$i" "10.1.$i.1/24"; done

# Pings to the PF and VF 0, one at a time, each with 5 s to come back, until stopped.
pinger() { # pinger NAME ADDR
	local ok=0 lost=0
	while [ ! -e "$LOGDIR/stop-pings" ]; do
		if ping -c 1 -W 5 "$2" >/dev/null 2>&1; then ok=$((ok + 1)); else lost=$((lost + 1)); fi
		echo "$ok $lost" >"$LOGDIR/ping-$1"
		sleep 0.5
	done
}
pinger pf 10.0.0.2 &
p1=$!
pinger vf0 10.1.0.2 &
p2=$!
# task_ticks COMM: CPU ticks (utime + stime) of vpf's threads named COMM.
task_ticks() {
	local t=0 f s comm want=$1
	for f in /proc/"$vpf_pid"/task/*/stat; do
		read -r s <"$f" || continue
		comm=${s#*(} comm=${comm%%)*}
		[ "$comm" = "$want" ] || continue
		# shellcheck disable=SC2086 # split into $1...
		set -- ${s##*)}         # $1 is field 3 (state): utime is field 14, stime 15
		t=$((t + ${12} + ${13}))
	done
	echo "$t"
}
task_exists() { grep -qx "$1" /proc/"$vpf_pid"/task/*/comm; }
# shellcheck disable=SC2086 # split into $1...
proc_ticks() { local s; read -r s <"/proc/$vpf_pid/stat"; set -- ${s##*)}; echo $((${12} + ${13})); }
# An orchestrator's view of the attack: the events (device-error when VF 1 needs a reset).
# The event stream goes to L1's own tmpfs (copied to the results at the end), not
# through the 9p results share for the whole run.
events=$(mktemp)
"$VPF" ctl --json "$ctl" events >"$events" 2>&1 &
for _ in $(seq 100); do grep -q '"subscribed":true' "$events" && break; sleep 0.1; done
grep -q '"subscribed":true' "$events" || fail "vpf ctl events did not subscribe"
t_attack=$(now_ms)
go attack

# Fault 5: VF 1 runs with no receive queue; L1 sends to it (ARP for 10.1.1.2).
await 'VPF-SRIOV: norx status' 120 "vfpoke norx did not run"
task_exists net0vf1 || fail "vpf has no thread net0vf1 (VF 1's I/O thread) to measure"
# The first ping's ARP requests sit in the tap's queue (vpf reads none: tx_packets of
# the tap stays 0); from then on vpf's RX side has a frame it cannot deliver.
ping -c 1 -W 1 10.1.1.2 >/dev/null 2>&1 || true      # nobody answers: VF 1 has no driver
t0=$(now_ms) io0=$(task_ticks net0vf1) all0=$(proc_ticks)
for _ in $(seq 8); do ping -c 1 -W 1 10.1.1.2 >/dev/null 2>&1 || true; done
ms=$(ms_since "$t0") io1=$(task_ticks net0vf1) all1=$(proc_ticks)
metric frames_read_from_vf1_tap "$(cat /sys/class/net/vpfvf1/statistics/tx_packets)"
# USER_HZ is 100 on x86.
io_pct=$(((io1 - io0) * 1000 / ms)) all_pct=$(((all1 - all0) * 1000 / ms))
metric attacked_io_thread_cpu_pct "$io_pct" %
metric vpf_cpu_pct_during_norx "$all_pct" %
[ "$io_pct" -le $IDLE_PCT_MAX ] || fail "VF 1's I/O thread used ${io_pct}% of a CPU with no receive queue (bound $IDLE_PCT_MAX%)"
go norx-measured

# Fault 7: the control socket answers while the guest keeps VF 1's control queue full.
await 'ctrlflood running' 120 "the control-queue flood did not start"
for i in 1 2 3 4 5; do
	t=$(now_ms)
	timeout 20 "$VPF" ctl --json "$ctl" stats dev=net0vf1 >/dev/null || fail "ctl stats during the flood failed"
	lat=$(ms_since "$t")
	metric "ctl_latency_during_flood_ms_$i" "$lat" ms
	[ "$lat" -le $CTL_LATENCY_MS_MAX ] || fail "ctl stats took ${lat} ms during the flood (bound $CTL_LATENCY_MS_MAX)"
done
await 'VPF-SRIOV: ctrlflood commands' 120 "the control-queue flood did not end"
go flood-checked

await 'VPF-SRIOV: vf1 recovered' 300 "VF 1 did not recover"
touch "$LOGDIR/stop-pings"
wait "$p1" "$p2"
read -r pf_ok pf_lost <"$LOGDIR/ping-pf"
read -r vf_ok vf_lost <"$LOGDIR/ping-vf0"
metric pings_pf "$pf_ok ok $pf_lost lost"
metric pings_vf0 "$vf_ok ok $vf_lost lost"
[ "$pf_lost" = 0 ] && [ "$vf_lost" = 0 ] || fail "pings lost: PF $pf_lost of $((pf_ok + pf_lost)), VF 0 $vf_lost of $((vf_ok + vf_lost))"
[ "$pf_ok" -gt 10 ] || fail "only $pf_ok pings to the PF during the attack"
go 'done'

rc=0
wait_vm || rc=$?
expect_guest_ok "$con" hostile
[ "$rc" = 0 ] || fail "vpf exited with $rc"
refused=$(grep -ac 'features .* refused' "$con" || true)
lines=$(grep -ac '^vpf: ' "$con" || true)
metric vpf_log_lines "$lines"
metric refused_feature_lines "$refused"
[ "$refused" -le 40 ] || fail "2000 refused feature sets gave $refused log lines (rate limit?)"
# Fault 6 (DRIVER_OK cleared without a reset) reached the orchestrator as a device-error
# event; the garbage and storms that follow fail VF 1 again and again, but its events are
# limited (10 per 5 s per device), and the stream ends with the shutdown event.
grep -q '"event":"device-error",.*"data":{"dev":"net0vf1","error":"status bit cleared without a reset"' \
	"$events" || fail "no device-error event for VF 1's cleared DRIVER_OK: $(head -c 2000 "$events")"
errors=$(grep -c '"event":"device-error"' "$events" || true)
secs=$(($(ms_since "$t_attack") / 1000))
metric device_error_events "$errors"
[ "$errors" -le $((10 * (secs / 5 + 2))) ] || fail "$errors device-error events in ${secs} s (limit: 10 per 5 s)"
grep -q '"event":"shutdown"' "$events" || fail "the event stream did not end with shutdown"
cp "$events" "$LOGDIR/events.jsonl"
log "ok"
