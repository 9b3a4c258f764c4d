#!/usr/bin/env bash
# Harness self-test, EXPECTED TO FAIL as "hung or L1 died": crashes L1 (nested
# mode only; it refuses to run directly on a host).
# shellcheck source=../../tests/e2e/lib.sh
. "$E2E_DIR/lib.sh"
[ "$TESTBED_MODE" = nested ] || skip "would crash the host"
log "crashing L1 on purpose"
echo c >/proc/sysrq-trigger
