#!/bin/bash
# Builds the libFuzzer targets in their own build dir and runs each for a bounded time.
# Usage: tests/fuzz/run.sh [seconds per target, default 60] [build dir]
# Environment: FUZZ_TARGETS (a space-separated subset of the targets, default all),
# FUZZ_RUNS (stop a target after this many executions, if before the time is up).
# Exit status: non-zero if a build fails or a target finds a crash (left in the corpus
# dir as crash-*).
set -euo pipefail
secs=${1:-60}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-$src/build-fuzz}
san='-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined'
if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$src" -Dfuzz=true -Dtests=disabled -Db_lundef=false \
		-Dbuildtype=debugoptimized -Dc_args="$san" -Dc_link_args='-fsanitize=address,undefined'
fi
read -r -a targets <<<"${FUZZ_TARGETS:-fuzz_pci fuzz_virtqueue fuzz_virtio_net fuzz_ctl fuzz_sriov fuzz_vhost_user}"
runs=()
[ -n "${FUZZ_RUNS:-}" ] && runs=(-runs="$FUZZ_RUNS")
ninja -C "$build" "${targets[@]/#/tests/fuzz/}"
for t in "${targets[@]}"; do
	corpus="$build/corpus/$t"
	mkdir -p "$corpus"
	if [ "$t" = fuzz_virtio_net ] && [ -z "$(ls -A "$corpus")" ] && command -v python3 >/dev/null; then
		python3 "$src/tests/fuzz/seeds.py" "$corpus"
	fi
	if [ "$t" = fuzz_sriov ] && [ -z "$(ls -A "$corpus")" ] && command -v python3 >/dev/null; then
		python3 "$src/tests/fuzz/seeds_sriov.py" "$corpus"
	fi
	if [ "$t" = fuzz_vhost_user ] && [ -z "$(ls -A "$corpus")" ] && command -v python3 >/dev/null; then
		python3 "$src/tests/fuzz/seeds_vhost_user.py" "$corpus"
	fi
	if [ "$t" = fuzz_ctl ] && [ -z "$(ls -A "$corpus")" ]; then
		i=0
		for req in '{"cmd":"set","dev":"net0","vf":3,"up":"on","mac":"02:00:00:00:00:01"}' \
			'{"cmd":"set","dev":"q\"x","up":false}' '{"cmd":"list"}' '{"cmd":"help"}' \
			'{"cmd":"set","dev":"\u00e9","vf":-1}' '{"cmd":"set","dev":"a","dev":"b"}' \
			'{"cmd":"list","id":0}'; do
			printf '%s' "$req" >"$corpus/seed$i"
			i=$((i + 1))
		done
	fi
	echo "== $t: ${secs}s"
	(cd "$build/corpus" && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$build/tests/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-max_len=16384 -print_final_stats=1 "${runs[@]}" "$corpus")
done
