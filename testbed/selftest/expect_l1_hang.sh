#!/usr/bin/env bash
# Harness self-test, EXPECTED TO FAIL as "hung or L1 died": freezes L1 (a panic
# with panic=0 spins forever), so the host must notice the missing heartbeat,
# save the vCPU state (results/l1-hang.txt) and kill L1. Nested mode only.
# shellcheck source=../../tests/e2e/lib.sh
. "$E2E_DIR/lib.sh"
[ "$TESTBED_MODE" = nested ] || skip "would hang the host"
sleep 30 # let L1 save its symbols (l1-run.sh, in the background)
log "freezing L1 on purpose"
echo 0 >/proc/sys/kernel/panic
echo c >/proc/sysrq-trigger
