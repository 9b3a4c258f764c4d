#!/usr/bin/env bash
# testbed-timeout: 540
# Multi-queue (VIRTIO_NET_F_MQ, queues=2 / vf-queues=2) with a stock L2 of 2 vCPUs
# (guest/mq.sh): net0 on vpf's data path over a multi-queue tap L1 made, net1 on
# vhost-net (one vhost worker per pair) with VF 0 on vpf's data path over a multi-queue
# tap vpf made; vpf's data path runs pair 1 on an I/O thread of its own. The guest
# sees 2 combined channels, switches to 1 and back (ethtool -L),
# and after 8 parallel TCP streams each way every function counts packets on both
# receive and both transmit queues (the guest's ethtool -S, and vpf's per-queue stats).
. "$(dirname "$0")/lib.sh"

MAC0=52:54:00:12:34:56 MAC1=52:54:00:12:35:00
[ -e /dev/vhost-net ] || modprobe vhost_net 2>/dev/null || true
[ -e /dev/vhost-net ] || skip "no /dev/vhost-net in this L1"
vhost_threads() { cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^vhost-[0-9]*$' || true; }
ctl_field() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" <<<"$1" | head -n1; }

www=$LOGDIR/www
mkdir -p "$www"
ip tuntap add dev mq0 mode tap vnet_hdr multi_queue
ip addr add 10.0.0.1/24 dev mq0
ip link set mq0 up
ip tuntap add dev mq1 mode tap vnet_hdr multi_queue
ip addr add 10.0.1.1/24 dev mq1
ip link set mq1 up
arp_ignore=$(cat /proc/sys/net/ipv4/conf/all/arp_ignore)
echo 1 >/proc/sys/net/ipv4/conf/all/arp_ignore
busybox httpd -p 10.0.0.1:8080 -h "$www" -f &
httpd=$!
cleanup() {
	kill "$httpd" 2>/dev/null
	ip link del mq0 2>/dev/null
	ip link del mq1 2>/dev/null
	echo "$arp_ignore" >/proc/sys/net/ipv4/conf/all/arp_ignore
	true
}
trap cleanup EXIT
con=$LOGDIR/l2-console.log ctl=$(mktemp -d)/ctl.sock
await() {
	wait_for_log "$con" "$1|VPF-MQ: FAIL" "$2" && ! grep -qa 'VPF-MQ: FAIL' "$con" ||
		{ tail -n 40 "$con"; fail "$3"; }
}
run_vm_bg "$con" 500 --memory 512M --cpus 2 --ctl "$ctl" \
	--net "tap=mq0,mac=$MAC0,queues=2" \
	--net "tap=mq1,mac=$MAC1,backend=vhost-net,queues=2,total-vfs=1,vf-tap=mqvf%d,vf-queues=2" \
	--cmdline "$(l2_cmdline mq vpf.mac0=$MAC0 vpf.mac1=$MAC1)"
await 'VPF-MQ: vf0 up' 300 "the guest's three functions did not come up with 2 pairs each"
grep -a 'VPF-MQ:' "$con" | while read -r l; do log "$l"; done
[ "$(vhost_threads)" = 2 ] || fail "expected 2 vhost workers (net1's 2 pairs), L1 has $(vhost_threads)"
# vpf's data path: pair 1 on its own I/O thread (net0q1, net1vf0q1); vhost-net's pairs on
# the vhost workers, none of vpf's.
vpf_pid=$(awk '{print $1}' "/proc/$VM_PID/task/$VM_PID/children")
threads=$(cat "/proc/$vpf_pid"/task/*/comm | tr '\n' ' ')
log "vpf threads: $threads"
grep -qw net0q1 <<<"$threads" && grep -qw net1vf0q1 <<<"$threads" ||
	fail "no I/O thread of its own for pair 1 of net0 and net1vf0: $threads"
! grep -qw net1q1 <<<"$threads" || fail "an I/O thread for a vhost-net pair: $threads"
v=$(sed -n 's/.*vectors input\.1: \([0-9]*\).*/\1/p' "$con")
[ "${v:-0}" -ge 3 ] || fail "expected an input.1 vector on each of the 3 functions, saw ${v:-none}"
ip link show mqvf0 >/dev/null 2>&1 || fail "tap mqvf0 was not created"
ip addr add 10.0.2.1/24 dev mqvf0
: >"$www/vf-tap-ready"
await 'VPF-MQ: ready' 120 "the guest's VF did not come up"

for ip in 10.0.0.2 10.0.1.2 10.0.2.2; do
	ping -c 2 -W 5 "$ip" >/dev/null || fail "ping $ip failed"
	for dir in "" -R; do
		iperf3 -c "$ip" -P 8 -t 2 $dir -J >"$LOGDIR/iperf3-$ip$dir.json" || fail "iperf3 $ip $dir failed"
		bps=$(sed -n 's/.*"bits_per_second":[[:space:]]*\([0-9.e+]*\).*/\1/p' "$LOGDIR/iperf3-$ip$dir.json" | tail -n1)
		metric "mq_iperf3_${ip}${dir:-_to_guest}_bps" "${bps:-0}"
	done
done
for dev in net0 net1vf0; do
	"$VPF" ctl --json "$ctl" stats "dev=$dev" >"$LOGDIR/stats-$dev.json" || fail "stats $dev failed"
done
: >"$www/traffic-done"
await 'VPF-MQ: done' 120 "the guest did not report its queue counters"
for f in net0 net1 vf0; do
	l=$(grep -a "VPF-MQ: $f rx_queue" "$con") || fail "no queue counters for $f"
	log "$l"
	for q in rx_queue_0 rx_queue_1 tx_queue_0 tx_queue_1; do
		n=$(sed -n "s/.* ${q}_packets=\([0-9]*\).*/\1/p" <<<"$l")
		[ "${n:-0}" -gt 0 ] || fail "$f: no packets on ${q} (guest: $l)"
	done
done
# vpf's own per-queue counters (its data path: net0 and the VF; vhost-net has none).
for dev in net0 net1vf0; do
	s=$(cat "$LOGDIR/stats-$dev.json")
	log "stats $dev: $s"
	[ "$(ctl_field "$s" queue_pairs)" = 2 ] && [ "$(ctl_field "$s" active_pairs)" = 2 ] ||
		fail "$dev: stats do not say 2 queue pairs, 2 active: $s"
	q=$(sed -n 's/.*"queues":\[\([^]]*\)\].*/\1/p' <<<"$s")
	for c in rx_packets tx_packets; do
		# No process substitution: L1 has no /dev/fd.
		read -r n0 n1 extra <<<"$(grep -o "\"$c\":[0-9]*" <<<"$q" | cut -d: -f2 | tr '\n' ' ')"
		[ -z "$extra" ] && [ "${n0:-0}" -gt 0 ] && [ "${n1:-0}" -gt 0 ] ||
			fail "$dev: $c per pair ${n0:-} ${n1:-} $extra, expected 2 pairs above 0: $s"
	done
done
expect_clean_exit "$con" mq
log "ok"
