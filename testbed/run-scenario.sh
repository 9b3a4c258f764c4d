#!/usr/bin/env bash
# run-scenario.sh NAME|PATH: run tests/e2e/NAME.sh (or the script PATH) once, with a hard timeout, and
# print "VPF-SCENARIO: NAME rc=N secs=S". Used inside L1 (nested mode) and on
# the host (direct mode). Expects the environment set up by run.sh/l1-run.sh:
# VPF L2_KERNEL L2_INITRD E2E_DIR TESTBED_RESULTS TESTBED_MODE.
set -uo pipefail
case $1 in
*/*) script=$1 name=$(basename "$1" .sh) ;;
*) script=$E2E_DIR/$1.sh name=$1 ;;
esac
export LOGDIR=$TESTBED_RESULTS/$name
rm -rf "$LOGDIR" && mkdir -p "$LOGDIR"

# A scenario may declare its own limit with a line "# testbed-timeout: SECS".
limit=$(sed -n 's/^# testbed-timeout: *\([0-9][0-9]*\).*/\1/p' "$script" | head -n1)
limit=${limit:-${SCENARIO_TIMEOUT:-300}}

uptime_s() { local up; read -r up _ </proc/uptime; echo "${up%.*}"; }
echo "VPF-SCENARIO-START: $name timeout=${limit}s"
start=$(uptime_s)
# Own session and process group, so that a timeout kills every VMM the script
# started, not just the script (busybox/GNU timeout would kill only the child).
setsid bash "$script" >"$LOGDIR/scenario.log" 2>&1 </dev/null &
pid=$!
rc=
while kill -0 "$pid" 2>/dev/null; do
	if [ $(($(uptime_s) - start)) -ge "$limit" ]; then
		echo "testbed: scenario $name timed out after ${limit}s, killing it" >>"$LOGDIR/scenario.log"
		kill -KILL -- -"$pid" 2>/dev/null
		rc=124
		break
	fi
	sleep 1
done
wait "$pid" 2>/dev/null
r=$?
rc=${rc:-$r}
kill -KILL -- -"$pid" 2>/dev/null # leftovers of a finished script
secs=$(($(uptime_s) - start))
echo "$rc $secs" >"$LOGDIR/rc"
echo "VPF-SCENARIO: $name rc=$rc secs=$secs"
