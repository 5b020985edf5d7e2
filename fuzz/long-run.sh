#!/usr/bin/env bash
# The long fuzz runs of fuzz/README.md: each target given, one after the other, runs until
# its libFuzzer process has used CPU_MINUTES of CPU time (user + system, read from
# /proc), not wall time, so that a run sharing the machine with builds still gets its full
# budget. The runs are niced (the machine stays usable) and use a generous -timeout for
# the same reason; a crash, hang, leak or out-of-memory stops the run with libFuzzer's
# report and the input in fuzz/artifacts/<target>/.
#
#   fuzz/long-run.sh CPU_MINUTES TARGET...     # e.g. fuzz/long-run.sh 30 decode_record json
#
# Needs a built fuzz/target (`cargo +nightly fuzz build --sanitizer address`) and the
# corpora (fuzz/seed.sh). Prints one summary line per target; logs are in
# $TMPDIR/eksaudit-fuzz-long/<target>.log.
set -euo pipefail
cd "$(dirname "$0")"
if [ $# -lt 2 ]; then
    echo "usage: $0 CPU_MINUTES TARGET..." >&2
    exit 2
fi
budget_ticks=$(($1 * 60 * $(getconf CLK_TCK)))
shift
# With the kernel's autogroups, `nice` only ranks processes of one session: the whole
# session is niced too, or the fuzzers take half the machine from a build next to them.
echo 19 >/proc/self/autogroup 2>/dev/null || true
logs="${TMPDIR:-/tmp}/eksaudit-fuzz-long"
mkdir -p "$logs"
triple="$(rustc -vV | sed -n 's/^host: //p')"

. ./max-len.sh

# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat; the
# command name in field 2 holds no spaces here).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

for target in "$@"; do
    binary="target/$triple/release/$target"
    if [ ! -x "$binary" ]; then
        echo "$binary is missing: build the targets first" >&2
        exit 2
    fi
    mkdir -p "corpus/$target" "artifacts/$target"
    log="$logs/$target.log"
    start=$(date +%s)
    corpora=("corpus/$target")
    if [ -d "regressions/$target" ]; then corpora+=("regressions/$target"); fi
    nice -n 19 "$binary" "${corpora[@]}" \
        -artifact_prefix="artifacts/$target/" -max_len="$(max_len "$target")" \
        -timeout=60 -rss_limit_mb=2048 -malloc_limit_mb=128 -print_final_stats=1 \
        >"$log" 2>&1 &
    pid=$!
    ticks=0
    stopped=0
    while kill -0 "$pid" 2>/dev/null; do
        now=$(cpu_ticks "$pid")
        if [ "$now" -gt "$ticks" ]; then ticks=$now; fi
        if [ "$ticks" -ge "$budget_ticks" ]; then
            # SIGTERM: libFuzzer stops with its final stats ("run interrupted"). SIGINT
            # would not do: a background job of a script starts with it ignored.
            kill -TERM "$pid"
            stopped=1
            break
        fi
        sleep 5
    done
    status=0
    wait "$pid" || status=$?
    wall=$(($(date +%s) - start))
    # Stopped by us, libFuzzer ends with "run interrupted" (or dies to the signal before its
    # handler is set); anything it reports itself is a finding.
    if grep -qE '^==[0-9]+==ERROR|^SUMMARY: |Test unit written|ERROR: libFuzzer' "$log" \
        || { [ "$stopped" -eq 0 ] && [ "$status" -ne 0 ]; }; then
        echo "$target: FAILED (exit $status) after ${wall} s wall; see $log and artifacts/$target/"
        tail -n 40 "$log" >&2
        exit 1
    fi
    stats=$( (grep -E '^#[0-9]+\s' "$log" || true) | tail -n 1 | cut -c1-120)
    execs=$( (sed -n 's/^stat::number_of_executed_units: *//p' "$log" || true) | tail -n 1)
    rss=$( (sed -n 's/^stat::peak_rss_mb: *//p' "$log" || true) | tail -n 1)
    echo "$target: ${wall} s wall, $((ticks / $(getconf CLK_TCK))) s CPU, ${execs:-?} execs, peak ${rss:-?} MiB, last: ${stats}"
done
