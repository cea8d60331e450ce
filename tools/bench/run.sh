#!/usr/bin/env bash
# tools/bench/run.sh: the standard pgjobs-bench scenarios, then a summary.
#
# Usage: tools/bench/run.sh [DSN]
#
# With DSN, runs against that database, which must be local (a unix socket or
# loopback address): every scenario drops and re-creates the bench schema
# (default pgjobs_bench, not pgjobs, so that a real pgjobs schema in the same
# database is left alone). Without DSN, starts a throwaway cluster with
# tools/pg-throwaway (fsync on) in a temporary directory and destroys it at
# the end.
#
# Scenarios:
#   backlog  reset; enqueue BENCH_JOBS no-op jobs with EnqueueMany, 1000 per
#            call (enqueue jobs/s); then a worker runs them all (worker
#            jobs/s = N / (last commit - first handler start)). With
#            concurrency 2 and 8, each with the worker defaults and with the
#            high-throughput preset (BENCH_PRESET).
#   latency  reset; a worker (concurrency 2) waits for jobs; BENCH_LATENCY_JOBS
#            jobs are enqueued one at a time, 20 ms apart, stamped with the
#            wall time; p50/p99/max of enqueue-to-handler-start.
#
# Environment (all optional):
#   PGJOBS_BENCH        the pgjobs-bench binary; default build/tools/bench/pgjobs-bench
#   BENCH_JOBS          backlog size; default 100000
#   BENCH_LATENCY_JOBS  stamped jobs; default 1000
#   BENCH_PRESET        worker flags of the high-throughput preset; default "--prefetch 1000"
#   BENCH_SCHEMA        schema to (re)create; default pgjobs_bench
#   BENCH_STEP_TIMEOUT  seconds any one step may take; default 600
#
# Every step is bounded by BENCH_STEP_TIMEOUT; progress and diagnostics go to
# stderr, the summary table to stdout.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=${PGJOBS_BENCH:-$ROOT/build/tools/bench/pgjobs-bench}
JOBS=${BENCH_JOBS:-100000}
LATENCY_JOBS=${BENCH_LATENCY_JOBS:-1000}
PRESET=${BENCH_PRESET:---prefetch 1000}
SCHEMA=${BENCH_SCHEMA:-pgjobs_bench}
STEP_TIMEOUT=${BENCH_STEP_TIMEOUT:-600}
QUEUE=bench
GAP_MS=20

WORK='' CLUSTER_DIR='' WORKER_PID='' DSN=''
declare -a ROWS=()

msg() { printf 'run.sh: %s\n' "$*" >&2; }
die() {
    msg "error: $*"
    exit 1
}

cleanup() {
    if [[ -n $WORKER_PID ]] && kill -0 "$WORKER_PID" 2>/dev/null; then
        kill "$WORKER_PID" 2>/dev/null || true
        wait "$WORKER_PID" 2>/dev/null || true
    fi
    if [[ -n $CLUSTER_DIR ]]; then
        "$ROOT/tools/pg-throwaway" destroy "$CLUSTER_DIR" >/dev/null 2>&1 ||
            msg "warning: could not destroy the throwaway cluster in $CLUSTER_DIR"
    fi
    if [[ -n $WORK ]]; then
        rm -rf -- "$WORK"
    fi
}

# True if one libpq host or hostaddr value names this machine.
host_is_local() {
    case $1 in
        '' | /* | @* | localhost | 127.* | ::1 | '[::1]' | %2[Ff]*) return 0 ;;
        *) return 1 ;;
    esac
}

# The host and hostaddr values of a keyword/value DSN or a URI, one a line
# (comma-separated lists split); PGHOST/PGHOSTADDR when the DSN names none.
dsn_hosts() {
    local dsn=$1 rest authority value found=0
    if [[ $dsn =~ ^postgres(ql)?://([^/?]*)(.*)$ ]]; then
        authority=${BASH_REMATCH[2]##*@}
        rest=${BASH_REMATCH[3]}
        if [[ -n $authority ]]; then
            # host[:port] or [v6addr][:port], comma-separated
            tr ',' '\n' <<<"$authority" | sed -E 's/^(\[[^]]*\]):[0-9]*$/\1/; s/^([^[][^:]*):[0-9]*$/\1/'
            found=1
        fi
        while [[ $rest =~ [?\&](host|hostaddr)=([^\&]*)(.*)$ ]]; do
            tr ',' '\n' <<<"${BASH_REMATCH[2]}"
            rest=${BASH_REMATCH[3]}
            found=1
        done
    else
        rest=" $dsn"
        while [[ $rest =~ [[:space:]](host|hostaddr)[[:space:]]*=[[:space:]]*(\'[^\']*\'|[^[:space:]]*)(.*)$ ]]; do
            value=${BASH_REMATCH[2]}
            value=${value#\'}
            tr ',' '\n' <<<"${value%\'}"
            rest=${BASH_REMATCH[3]}
            found=1
        done
    fi
    if ((found == 0)); then
        printf '%s\n%s\n' "${PGHOST:-}" "${PGHOSTADDR:-}"
    fi
}

check_local_dsn() {
    local host
    while IFS= read -r host; do
        host_is_local "$host" ||
            die "the DSN names host '$host'; the benchmark only talks to local sockets and loopback"
    done < <(dsn_hosts "$1")
}

# Runs a step bounded in time: timeout STEP_TIMEOUT pgjobs-bench ARGS...
bench() {
    timeout -k 5 "$STEP_TIMEOUT" "$BENCH" "$@"
}

# Evaluates a Python expression over d, the JSON of FILE's last line.
json_calc() {
    python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l.strip()]
d = json.loads(lines[-1])
print(eval(sys.argv[2]))' "$1" "$2"
}

# stdout of a worker must be exactly READY and one JSON line.
check_worker_output() {
    local out=$1
    [[ $(sed -n 1p "$out") == READY && $(wc -l <"$out") -eq 2 ]] ||
        die "worker stdout is not READY + one JSON line (see $out)"
}

reset() {
    bench reset --dsn "$DSN" --schema "$SCHEMA" --queue "$QUEUE" 2>>"$WORK/log" ||
        die "reset failed; log: $(tail -n 3 "$WORK/log")"
}

# backlog LABEL CONCURRENCY [WORKER FLAGS...]
backlog() {
    local label=$1 concurrency=$2 enq=$WORK/enqueue.out out=$WORK/worker.out
    shift 2
    reset
    bench enqueue --dsn "$DSN" --schema "$SCHEMA" --queue "$QUEUE" --count "$JOBS" \
        --batch 1000 >"$enq" 2>>"$WORK/log" || die "$label: enqueue failed; see the log above"
    bench worker --dsn "$DSN" --schema "$SCHEMA" --queue "$QUEUE" --concurrency "$concurrency" \
        --exit-after "$JOBS" --max-seconds "$STEP_TIMEOUT" "$@" >"$out" 2>>"$WORK/log" ||
        die "$label: worker failed; log: $(tail -n 3 "$WORK/log")"
    check_worker_output "$out"
    local enq_rate run_rate
    enq_rate=$(json_calc "$enq" 'round(d["enqueued"] / d["seconds"])')
    run_rate=$(json_calc "$out" \
        'round(d["count"] / ((d["last_end_ms"] - d["first_start_ms"]) / 1000))')
    msg "$label: enqueue $enq_rate jobs/s, worker $run_rate jobs/s"
    ROWS+=("$(printf '%-40s %14s %14s' "$label" "$enq_rate" "$run_rate")")
}

wait_for_ready() {
    local out=$1 i
    for ((i = 0; i < 1200; i++)); do
        [[ $(sed -n 1p "$out") == READY ]] && return 0
        kill -0 "$WORKER_PID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

latency() {
    local label="latency c=2, $LATENCY_JOBS jobs, ${GAP_MS} ms apart" out=$WORK/latency.out
    reset
    : >"$out"
    bench worker --dsn "$DSN" --schema "$SCHEMA" --queue "$QUEUE" --concurrency 2 \
        --exit-after "$LATENCY_JOBS" --max-seconds "$STEP_TIMEOUT" >"$out" 2>>"$WORK/log" &
    WORKER_PID=$!
    wait_for_ready "$out" || die "the latency worker did not print READY; log: $(tail -n 3 "$WORK/log")"
    bench enqueue --dsn "$DSN" --schema "$SCHEMA" --queue "$QUEUE" --count "$LATENCY_JOBS" \
        --gap-ms "$GAP_MS" --stamp >"$WORK/stamped.out" 2>>"$WORK/log" ||
        die "stamped enqueue failed; log: $(tail -n 3 "$WORK/log")"
    wait "$WORKER_PID" || die "the latency worker failed; log: $(tail -n 3 "$WORK/log")"
    WORKER_PID=''
    check_worker_output "$out"
    local stats
    # Nearest-rank percentiles.
    stats=$(json_calc "$out" '(lambda l: "p50 %.2f ms   p99 %.2f ms   max %.2f ms   (n=%d)" % (
        l[-(-len(l) * 50 // 100) - 1], l[-(-len(l) * 99 // 100) - 1], l[-1], len(l)))(
        sorted(d["latencies_ms"]))')
    msg "$label: $stats"
    LATENCY_ROW=$(printf '%-40s %s' "$label" "$stats")
}

main() {
    (($# <= 1)) || die "usage: tools/bench/run.sh [DSN]"
    [[ -x $BENCH ]] || die "no pgjobs-bench at $BENCH; build it (ninja pgjobs-bench) or set PGJOBS_BENCH"
    command -v python3 >/dev/null || die "python3 is needed to read the results"
    [[ $JOBS =~ ^[1-9][0-9]*$ && $LATENCY_JOBS =~ ^[1-9][0-9]*$ ]] ||
        die "BENCH_JOBS and BENCH_LATENCY_JOBS must be positive integers"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    WORK=$(mktemp -d /tmp/pgjobs-bench-run.XXXXXX)
    local where
    if (($# == 1)); then
        DSN=$1
        check_local_dsn "$DSN"
        where="the given DSN"
    else
        CLUSTER_DIR=$WORK/cluster
        msg "starting a throwaway cluster (fsync on) in $CLUSTER_DIR"
        DSN=$("$ROOT/tools/pg-throwaway" start "$CLUSTER_DIR" 2>>"$WORK/log") ||
            die "could not start a throwaway cluster; log: $(tail -n 5 "$WORK/log")"
        where="a throwaway cluster (fsync on)"
    fi
    local -a preset
    read -r -a preset <<<"$PRESET"

    backlog "backlog c=2" 2
    backlog "backlog c=8" 8
    backlog "backlog c=2 $PRESET" 2 "${preset[@]}"
    backlog "backlog c=8 $PRESET" 8 "${preset[@]}"
    latency

    printf '\npgjobs-bench: %s jobs per backlog run, %s, %s cores\n' "$JOBS" "$where" "$(nproc)"
    printf '%-40s %14s %14s\n' scenario 'enqueue jobs/s' 'worker jobs/s'
    printf '%s\n' "${ROWS[@]}"
    printf '%s\n' "$LATENCY_ROW"
}

LATENCY_ROW=''
main "$@"
