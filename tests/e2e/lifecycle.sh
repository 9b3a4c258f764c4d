#!/usr/bin/env bash
# testbed-timeout: 300
# How a stock guest's end maps to vpf's exit status: reboot -> 0, kernel panic with
# panic=-1 (reported through pvpanic) -> 2; and `vpf ctl SOCK powerdown` (the ACPI power
# button): a guest with acpid shuts down cleanly, vpf exits 0.
. "$(dirname "$0")/lib.sh"

con=$LOGDIR/l2-reboot.log
rc=0
run_vm "$con" 120 --cmdline "$(l2_cmdline reboot)" || rc=$?
[ "$rc" = 0 ] || { tail -n 30 "$con"; fail "reboot: vpf exited with $rc, expected 0"; }
expect_in_log "$con" 'VPF-FACT: rebooting'
expect_in_log "$con" 'guest rebooted' "vpf did not report a reboot"

con=$LOGDIR/l2-panic.log
rc=0
run_vm "$con" 120 --cmdline "$(l2_cmdline panic)" || rc=$?
[ "$rc" = 2 ] || { tail -n 30 "$con"; fail "panic: vpf exited with $rc, expected 2"; }
expect_in_log "$con" 'VPF-FACT: panicking'
expect_in_log "$con" 'Kernel panic' "guest did not panic"
expect_in_log "$con" 'guest kernel panic' "vpf did not report the panic"
con=$LOGDIR/l2-powerdown.log ctl=$(mktemp -d)/ctl.sock
run_vm_bg "$con" 120 --ctl "$ctl" --cmdline "$(l2_cmdline powerdown)"
wait_for_log "$con" 'VPF-FACT: waiting for the power button' 90 ||
	{ tail -n 30 "$con"; fail "powerdown: the guest did not get ready"; }
out=$("$VPF" ctl --json "$ctl" powerdown) && grep -q '"pressed":true' <<<"$out" || fail "ctl powerdown: $out"
rc=0
wait_vm || rc=$?
[ "$rc" = 0 ] || { tail -n 30 "$con"; fail "powerdown: vpf exited with $rc, expected 0"; }
expect_in_log "$con" 'VPF-FACT: power button pressed' "the guest's acpid did not see the power button"
expect_guest_ok "$con" powerdown
expect_in_log "$con" 'guest powered off' "vpf did not report the guest's power-off"
log "ok"
