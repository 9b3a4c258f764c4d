#!/usr/bin/env bash
# testbed/run.sh [--direct|--nested] [options] SCENARIO...
# Runs tests/e2e/SCENARIO.sh scenarios, nested inside an L1 VM (QEMU TCG,
# -cpu max exposes SVM) or directly on a host with vmx/svm. See docs/testbed.md.
set -euo pipefail
. "$(dirname "$0")/common.sh"

usage() {
	cat <<EOF
usage: testbed/run.sh [--direct|--nested] [options] SCENARIO...
  SCENARIO            name of tests/e2e/SCENARIO.sh; "all" = every tests/e2e/*.sh
  --nested            run inside an L1 VM (default when the host lacks vmx/svm)
  --direct            run on this host (default when it has vmx/svm and /dev/kvm)
  --smp N             L1 vCPUs for every scenario (default ${L1_SMP:-1}, or what a scenario
                      asks with "# testbed-smp: N": one L1 per vCPU count; docs/testbed.md)
  --mem MB            L1 memory (default ${L1_MEM:-3072})
  --timeout SECS      per-scenario limit unless the scenario sets "# testbed-timeout: SECS"
  --shell             nested only: boot L1 with an interactive shell, run nothing
  --l1-append ARGS    more L1 kernel arguments, e.g. kvm_amd.npt=0 (module parameters work)
Environment: VPF (default build/vpf), E2E_* variables are passed to scenarios.
Results: build/testbed/results/{summary.txt,NAME/,l1-console.log}
EOF
	exit 2
}

mode='' smp=${L1_SMP:-1} smp_set=${L1_SMP:+1} mem=${L1_MEM:-3072} shell=0 scenarios=() l1_append=${L1_APPEND:-}
export SCENARIO_TIMEOUT=${SCENARIO_TIMEOUT:-300}
HEARTBEAT_SECS=${HEARTBEAT_SECS:-90} # L1 is declared hung after this long without a heartbeat
while [ $# -gt 0 ]; do
	case $1 in
	--direct) mode=direct ;;
	--nested) mode=nested ;;
	--smp) smp=$2 smp_set=1; shift ;;
	--mem) mem=$2; shift ;;
	--timeout) SCENARIO_TIMEOUT=$2; shift ;;
	--shell) shell=1 ;;
	--l1-append) l1_append=$2; shift ;;
	-h | --help) usage ;;
	-*) usage ;;
	all) for f in "$TB_REPO"/tests/e2e/*.sh; do
			[ "${f##*/}" = lib.sh ] || scenarios+=("$f")
		done ;;
	*/*) # a script path (e.g. testbed/selftest/*.sh); L1 sees the repo at the same path
		f=$(realpath -e "$1") || tb_die "no such scenario script $1"
		case $f in "$TB_REPO"/*) ;; *) tb_die "$1 is outside the repo (L1 sees only the repo)" ;; esac
		scenarios+=("$f") ;;
	*) [ -f "$TB_REPO/tests/e2e/$1.sh" ] || tb_die "no scenario tests/e2e/$1.sh"
		scenarios+=("$TB_REPO/tests/e2e/$1.sh") ;;
	esac
	shift
done
[ ${#scenarios[@]} -gt 0 ] || [ "$shell" = 1 ] || usage
if [ -z "$mode" ]; then
	if host_has_hwvirt; then mode=direct; else mode=nested; fi
fi

"$TB_REPO/testbed/build-images.sh"

mkdir -p "$TB_OUT"
exec 9>"$TB_OUT/.run.lock"
flock -n 9 || tb_die "another testbed/run.sh is using $TB_OUT"

results=$TB_OUT/results
rm -rf "$results" && mkdir -p "$results"
vpf_src=${VPF:-$TB_REPO/build/vpf}
[ -x "$vpf_src" ] || tb_log "note: no vpf binary at $vpf_src (set VPF=...); scenarios that need it will fail or skip"

# The per-scenario limits, so that the host can bound the whole run.
total=0
for s in "${scenarios[@]}"; do
	l=$(sed -n 's/^# testbed-timeout: *\([0-9][0-9]*\).*/\1/p' "$s" | head -n1)
	total=$((total + ${l:-$SCENARIO_TIMEOUT} + 15))
done

# Copies the console to the terminal and to a log whose lines carry the host's
# seconds since start (how L1 boot times are measured).
stamp() {
	local t0=${EPOCHREALTIME/./} line cs
	while IFS= read -r line; do
		line=${line%$'\r'}
		cs=$(((${EPOCHREALTIME/./} - t0) / 10000))
		printf '%s\n' "$line"
		printf '[%4d.%02d] %s\n' $((cs / 100)) $((cs % 100)) "$line" >>"$1"
	done
}

# Exported to every scenario (both modes); E2E_* variables pass through.
export REPO=$TB_REPO E2E_DIR=$TB_REPO/tests/e2e TESTBED_DIR=$TB_OUT TESTBED_RESULTS=$results
export TESTBED_MODE=$mode
console=$results/console.log
qpid='' fpid=''
cleanup() {
	[ -n "$qpid" ] && kill -TERM "$qpid" 2>/dev/null
	[ -n "$fpid" ] && wait "$fpid" 2>/dev/null
	rm -f "$results/.fifo"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t_start=${EPOCHREALTIME/./}
if [ "$mode" = direct ]; then
	export VPF=$vpf_src L2_KERNEL=$TB_OUT/bzImage L2_INITRD=$TB_OUT/l2.cpio.gz
	for s in "${scenarios[@]}"; do
		"$TB_REPO/testbed/run-scenario.sh" "$s"
	done 2>&1 | stamp "$console"
else
	ensure_pkgs qemu-system-x86
	# vpf (and any library L1 lacks) goes next to the images; L1 copies it to its tmpfs.
	rm -rf "$TB_OUT/run" && mkdir -p "$TB_OUT/run/lib"
	if [ -x "$vpf_src" ]; then
		cp "$vpf_src" "$TB_OUT/run/vpf"
		for lib in $(ldd "$vpf_src" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'); do
			grep -qxF "${lib##*/}" "$TB_OUT/l1.libs" || cp -L "$lib" "$TB_OUT/run/lib/"
		done
	fi
	# boot_l1 SMP SCENARIO...: one L1 with SMP vCPUs runs these scenarios; its console
	# is appended to results/console.log, where the rc lines are read afterwards.
	boot_l1() {
		local smp=$1 total=0 s l
		shift
		for s in "$@"; do
			l=$(sed -n 's/^# testbed-timeout: *\([0-9][0-9]*\).*/\1/p' "$s" | head -n1)
			total=$((total + ${l:-$SCENARIO_TIMEOUT} + 15))
		done
		rm -f "$results/.fifo" "$results/.monitor.in" "$results/.monitor.out" "$results/.ttyS1" "$results/.heartbeat"
		{
			echo "SCENARIOS=\"$*\" L1_SHELL=$shell"
			for v in REPO E2E_DIR TESTBED_DIR TESTBED_RESULTS TESTBED_MODE SCENARIO_TIMEOUT $(compgen -e | grep '^E2E_' || true); do
				printf 'export %s=%q\n' "$v" "${!v}"
			done
		} >"$results/plan.sh"
		[ "$shell" = 1 ] && total=86400
		# A hung L1: where its vCPUs are (QEMU monitor through the .monitor FIFOs;
		# nokaslr above makes the RIPs match System.map) -> results/l1-hang.txt.
		l1_diagnose() {
			local m=$results/.monitor out=$results/l1-hang.txt rip rips
			for _ in 1 2 3; do printf 'info cpus\ninfo registers -a\ninfo lapic\ninfo pic\n' >"$m.in"; sleep 1; done
			timeout 3 cat "$m.out" | tr -d '\r' >"$out" || true
			# L1 saved its text symbols (Debian ships no real System.map); hex
			# addresses of equal length compare correctly as strings.
			local map=$results/.kallsyms.sorted
			LC_ALL=C sort "$results/.kallsyms" >"$map" 2>/dev/null || true
			mapfile -t rips < <(sed -n 's/^RIP=\([0-9a-f]*\).*/\1/p' "$out")
			{
				printf '\n---- RIP samples -> symbols\n'
				for rip in "${rips[@]}"; do
					echo "$rip $(awk -v r="$rip" '"" $1 <= "" r { s = $3 " " $4 } "" $1 > "" r { exit } END { print s }' "$map")"
				done
			} >>"$out"
			echo "testbed: L1 vCPU state saved in $out:" | tee -a "$console"
			sed -n '/^---- RIP/,$p' "$out" | tee -a "$console"
			# The last sample's interrupt state (a pending but undelivered timer vector
			# in IRR, an ISR never EOI'd, IF or HLT), for logs that keep only stdout.
			echo "---- last sample: RFL/HLT, LAPIC timer, ISR/IRR/PPR" | tee -a "$console"
			grep -E '^RIP=|^(LVTT|Timer|ISR|IRR|APR)[[:space:]]' "$out" | tail -n 6 | tee -a "$console" || true
		}
		boot_allow=240
		l1=(qemu-system-x86_64 -accel tcg -cpu max -smp "$smp" -m "$mem"
			-nodefaults -no-user-config -nographic -serial stdio -serial "file:$results/.ttyS1" -no-reboot
			-monitor "pipe:$results/.monitor"
			-kernel "$TB_OUT/bzImage" -initrd "$TB_OUT/l1.cpio"
			-append "console=ttyS0 panic=-1 quiet nokaslr vpf.repo=$TB_REPO vpf.results=$results${l1_append:+ $l1_append}"
			-virtfs "local,path=$TB_REPO,mount_tag=repo,security_model=none,readonly=on"
			-virtfs "local,path=$results,mount_tag=results,security_model=none")
		# shellcheck disable=SC2016 # the single quotes are text: $l1_append expands
		tb_log "L1: -smp $smp -m $mem${l1_append:+, append '$l1_append'}, scenarios: $(for f in "$@"; do basename "$f" .sh; done | xargs), limit $((total + boot_allow))s"
		if [ "$shell" = 1 ]; then
			"${l1[@]}"
			exit
		fi
		mkfifo "$results/.fifo" "$results/.monitor.in" "$results/.monitor.out"
		stamp "$console" <"$results/.fifo" &
		fpid=$!
		timeout -k 10 $((total + boot_allow)) "${l1[@]}" </dev/null >"$results/.fifo" 2>&1 &
		qpid=$!
		set +e
		# L1 writes a heartbeat every 10 s to its second serial port (results/.ttyS1,
		# no 9p involved) and touches results/.heartbeat (through 9p). When one stops,
		# L1 has hung (seen under TCG: a vCPU spinning at 100%, no output) or its 9p
		# share has: either way the run cannot go on, and waiting for the overall
		# limit would only waste time.
		t_launch=$EPOCHSECONDS
		age_of() { if [ -f "$1" ]; then echo $((EPOCHSECONDS - $(stat -c %Y "$1"))); else echo $((EPOCHSECONDS - t_launch)); fi; }
		while kill -0 "$qpid" 2>/dev/null; do
			sleep 2
			if [ -s "$results/.ttyS1" ]; then allowed=$HEARTBEAT_SECS; else allowed=$boot_allow; fi
			a_tty=$(age_of "$results/.ttyS1") a_9p=$(age_of "$results/.heartbeat")
			why=
			if [ "$a_tty" -gt "$allowed" ]; then
				why="L1 stopped responding (no heartbeat for ${a_tty}s)"
			elif [ "$a_9p" -gt "$allowed" ]; then
				why="L1 is alive but its 9p share stalled (no 9p heartbeat for ${a_9p}s)"
			fi
			if [ -n "$why" ]; then
				echo "testbed: $why, killing it" | tee -a "$console"
				l1_diagnose
				kill -TERM "$qpid"
				break
			fi
		done
		wait "$qpid"
		qrc=$?
		set -e
		qpid=
		wait "$fpid"
		fpid=
		[ "$qrc" = 124 ] && echo "testbed: L1 killed after the overall limit of $((total + boot_allow))s" | tee -a "$console"
		# (the console lines may carry terminal escapes before the marker)
		up=$(sed -n 's/^\[ *\([0-9.]*\)\] .*VPF-L1: userspace up.*/\1/p' "$console" | tail -n1)
		ready=$(sed -n 's/^\[ *\([0-9.]*\)\] .*VPF-L1: ready.*/\1/p' "$console" | tail -n1)
		tb_log "L1 boot: userspace after ${up:-?}s, scenarios start after ${ready:-?}s (host wall clock)"
	}
	# A scenario may ask for more L1 vCPUs ("# testbed-smp: N", e.g. one that busy-polls a
	# CPU): scenarios are grouped by that count, one L1 boot per group, in order of the
	# count (without --smp or L1_SMP; with either, one L1 of that size runs them all).
	if [ "$shell" = 1 ]; then
		boot_l1 "$smp"
		exit
	fi
	declare -A by_smp=()
	for s in "${scenarios[@]}"; do
		n=$(sed -n 's/^# testbed-smp: *\([0-9][0-9]*\).*/\1/p' "$s" | head -n1)
		[ -n "$smp_set" ] || [ -z "$n" ] && n=$smp
		by_smp[$n]+="$s "
	done
	for n in $(printf '%s\n' "${!by_smp[@]}" | sort -n); do
		# shellcheck disable=SC2086
		boot_l1 "$n" ${by_smp[$n]}
	done
fi
wall=$(((${EPOCHREALTIME/./} - t_start) / 1000000))

# One line per scenario; a scenario without an rc line hung or took L1 down.
fails=0
: >"$results/summary.txt"
for f in "${scenarios[@]}"; do
	s=$(basename "$f" .sh)
	line=$(grep -a "VPF-SCENARIO: $s rc=" "$console" | tail -n1 || true)
	rc=$(sed -n 's/.* rc=\([0-9]*\).*/\1/p' <<<"$line")
	secs=$(sed -n 's/.* secs=\([0-9]*\).*/\1/p' <<<"$line")
	if [ -z "$rc" ] && grep -aq "VPF-SCENARIO-START: $s " "$console"; then
		res=FAIL why="hung or L1 died while it ran (no rc line)"
	elif [ -z "$rc" ]; then
		res=FAIL why="never started (L1 died or hung before it)"
	elif [ "$rc" = 0 ]; then
		res=PASS why=
	elif [ "$rc" = 77 ]; then
		res=SKIP why="$(grep -a '^SKIP' "$results/$s/scenario.log" 2>/dev/null | tail -n1)"
	elif [ "$rc" = 124 ]; then
		res=FAIL why="timed out"
	else
		res=FAIL why="rc=$rc"
	fi
	[ "$res" = FAIL ] && fails=$((fails + 1))
	echo "$s $res ${secs:--}" >>"$results/summary.txt"
	printf '%-4s %-28s %5ss  %s\n' "$res" "$s" "${secs:--}" "${why:+$why; }log: $results/$s/"
done
echo "testbed: ${#scenarios[@]} scenario(s), $fails failed, ${wall}s ($mode); summary: $results/summary.txt"
[ "$fails" = 0 ]
