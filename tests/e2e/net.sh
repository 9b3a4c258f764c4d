#!/usr/bin/env bash
# testbed-timeout: 540
# virtio-net over a host tap: a stock L2 guest's eth0 has the MAC vpf was given; ping both
# ways; iperf3 TCP both directions; a 10 MB file each way arrives intact (md5); link
# down/up through vpf's control socket is seen by the guest (carrier); interrupt moderation
# set with ethtool -C (NOTF_COAL) takes receive interrupts down and shows in vpf's stats.
. "$(dirname "$0")/lib.sh"

TAP=vpftap0 MAC=52:54:00:12:34:56
ip tuntap add dev $TAP mode tap vnet_hdr
ip addr add 10.0.0.1/24 dev $TAP
ip link set $TAP up

www=$LOGDIR/www
mkdir -p "$www"
head -c 10485760 /dev/urandom >"$www/to-guest.bin"
md5_to_guest=$(md5sum <"$www/to-guest.bin" | cut -d' ' -f1)
busybox httpd -p 10.0.0.1:8080 -h "$www" -f &
httpd_pid=$!
cleanup() { kill "$httpd_pid" 2>/dev/null; ip link del $TAP 2>/dev/null; true; }
trap cleanup EXIT

# Not in LOGDIR: that may be a 9p share, where Unix sockets cannot live.
con=$LOGDIR/l2-console.log ctl=$(mktemp -d)/ctl.sock
run_vm_bg "$con" 500 --memory 512M --net tap=$TAP,mac=$MAC --ctl "$ctl" \
	--cmdline "$(l2_cmdline net vpf.mac=$MAC)"
wait_for_log "$con" 'VPF-NET: (coalesce rx|.*failed|no virtio|mac .* expected)' 300 ||
	{ tail -n 40 "$con"; fail "L2 did not get through interrupt moderation"; }
# Interrupt moderation set by the guest (ethtool -C): fewer receive interrupts for the
# same 50 ping replies, and the device reports the guest's setting.
expect_moderation "$con"
"$VPF" ctl --json "$ctl" stats dev=net0 >"$LOGDIR/stats-coal.json" || fail "stats failed"
grep -q '"rx_usecs":100000' "$LOGDIR/stats-coal.json" || fail "device lacks the guest's rx-usecs: $(cat "$LOGDIR/stats-coal.json")"
touch "$www/coal-checked"
wait_for_log "$con" 'VPF-NET: (ready|.*failed|no virtio|mac .* expected)' 300 ||
	{ tail -n 40 "$con"; fail "L2 did not get its network up"; }
expect_in_log "$con" 'VPF-NET: ready' "L2 network setup failed"
expect_in_log "$con" "VPF-NET: dev=eth0 mac=$MAC" "guest eth0 does not have MAC $MAC"
log "guest->host ping and host->guest file ok; now host->guest"

ping -c 3 -W 5 10.0.0.2 >"$LOGDIR/ping.log" || { cat "$LOGDIR/ping.log"; fail "ping L1 -> L2 failed"; }
grep -q "md5-from-l1 $md5_to_guest" "$con" || fail "10 MB file L1 -> L2 corrupted (md5 $md5_to_guest expected)"
busybox wget -q -O "$LOGDIR/from-guest.bin" http://10.0.0.2:8080/from-guest.bin || fail "wget from L2 failed"
md5_from_guest=$(md5sum <"$LOGDIR/from-guest.bin" | cut -d' ' -f1)
grep -q "md5-from-l2 $md5_from_guest" "$con" || fail "10 MB file L2 -> L1 corrupted"
rm -f "$LOGDIR/from-guest.bin" "$www/to-guest.bin"

for dir in "" -R; do
	iperf3 -c 10.0.0.2 -t 3 $dir -J >"$LOGDIR/iperf3$dir.json" || fail "iperf3 $dir failed"
	bps=$(sed -n 's/.*"bits_per_second":[[:space:]]*\([0-9.e+]*\).*/\1/p' "$LOGDIR/iperf3$dir.json" | tail -n1)
	metric "iperf3_tcp${dir:-_host_to_guest}_bps" "${bps:-0}"
	[ -n "$bps" ] || fail "iperf3 $dir reported no throughput"
done

"$VPF" ctl --json "$ctl" stats dev=net0 >"$LOGDIR/stats-before.json" || fail "stats failed"
log "stats: $(cat "$LOGDIR/stats-before.json")"
"$VPF" ctl --json "$ctl" link dev=net0 up=false >/dev/null || fail "link down failed"
wait_for_log "$con" 'VPF-NET: carrier (down|never)' 120 || fail "guest did not see link down"
expect_in_log "$con" 'VPF-NET: carrier down' "guest did not see link down"
"$VPF" ctl --json "$ctl" link dev=net0 up=true >/dev/null || fail "link up failed"
rc=0
wait_vm || rc=$?
expect_in_log "$con" 'VPF-NET: carrier up' "guest did not see link up"
expect_in_log "$con" 'VPF-NET: ping after link up ok' "no traffic after link up"
expect_guest_ok "$con" net
[ "$rc" = 0 ] || fail "vpf exited with $rc"
log "ok"
