#!/usr/bin/env bash
# testbed-timeout: 10
# Harness self-test, EXPECTED TO FAIL as "timed out": a scenario that hangs with a
# VMM-like child must be killed with its whole process group after its limit.
# shellcheck source=../../tests/e2e/lib.sh
. "$E2E_DIR/lib.sh"
sleep 1000 &
log "hanging on purpose (child $!)"
sleep 1000
