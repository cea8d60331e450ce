#!/usr/bin/env bash
# tools/bench/run.sh: the standard pgjobs-bench scenarios, then a summary.
#
# Usage: tools/bench/run.sh [DSN]
#
# With DSN, runs against that database, which must be local (a unix socket or
# loopback address): every scenario drops and re-creates the bench schema
# (default pgjobs_bench, not pgjobs, so that a real pgjobs schema in the same
# database is left alone; workers4 also creates and drops that name with _1
# to _4 appended). Without DSN, starts a throwaway cluster with
# tools/pg-throwaway (fsync on) in a temporary directory and destroys it at
# the end.
#
# Every backlog is measured as production sees it: after the enqueue, the
# script runs CHECKPOINT and VACUUM ANALYZE, so the worker runs on a table
# whose statistics have been taken (as autovacuum does after any bulk
# enqueue), never on a fresh one.
#
# Scenarios (BENCH_SCENARIOS, default "backlog latency"; "all" = every one):
#   backlog  reset; enqueue BENCH_JOBS no-op jobs with EnqueueMany, 1000 per
#            call (enqueue jobs/s); then a worker runs them all (worker
#            jobs/s = N / (last handler end - first handler start)). With
#            concurrency 2 and 8, with the worker defaults and with an
#            explicit prefetch (BENCH_PRESET). The worker's peak RSS is shown,
#            and the CPU time per job while the worker ran: of the worker
#            process, of every postgres process (with the backends that
#            exited) and of redis-server, in microseconds (every process of
#            that name on the machine counts: run it on a quiet one).
#   workers4 the backlog run by four worker processes (concurrency 2 each,
#            defaults) sharing it, each stopping when the queue is empty;
#            then, as a control, four processes each on its own schema with
#            a quarter of the backlog (they share only the server): the
#            difference between the two rows is what sharing one queue
#            costs, the control's difference from one process is what
#            running four processes costs on the machine. Last, PostgreSQL
#            alone: primary-key reads (pgbench) from 2 and from 8 clients.
#   big      the backlog of BENCH_BIG_JOBS (default 1,000,000): 10 % delayed
#            an hour, priorities 0, 3 and 6; the worker (c=2, defaults) runs
#            the ready ones while autovacuum is on; then the hot table's size.
#   notify   single-row INSERT transactions from 8 clients (pgbench), with the
#            NOTIFY trigger and with it disabled, synchronous_commit on and off.
#   latency  reset; a worker (concurrency 2) waits for jobs; BENCH_LATENCY_JOBS
#            jobs are enqueued one at a time, 20 ms apart, stamped with the
#            wall time; p50/p99/max of enqueue-to-handler-start, and p50/p99
#            of the enqueue call itself (the INSERT and its commit).
#   loaded   latency while another queue drains a backlog of BENCH_LOADED_JOBS
#            (default 2,000,000) with its own worker process (fails if it
#            drained too soon).
#   sql      the backlog run as a task of kind "sql" (SELECT 1 on the
#            worker's connection pool), concurrency 8: the cost of the kind.
#   redis    the PostgreSQL and the Redis broker side by side (README, "Redis
#            broker"): backlog c=2 and c=8 and latency, each with --broker
#            postgres and then --broker redis, against a throwaway
#            redis-server (tools/redis-throwaway) on a unix socket.
#
# Environment (all optional):
#   PGJOBS_BENCH        the pgjobs-bench binary; default build/tools/bench/pgjobs-bench
#   BENCH_JOBS          backlog size; default 100000
#   BENCH_LATENCY_JOBS  stamped jobs; default 1000
#   BENCH_SCENARIOS     scenarios to run; default "backlog latency"
#   BENCH_BIG_JOBS      jobs of the big scenario; default 1000000
#   BENCH_LOADED_JOBS   backlog of the loaded scenario; default 2000000
#   BENCH_PRESET        worker flags of the explicit preset; default "--prefetch 1000"
#   BENCH_SCHEMA        schema to (re)create; default pgjobs_bench
#   BENCH_STEP_TIMEOUT  seconds any one step may take; default 600
#   BENCH_PG_SETTINGS   server settings for the throwaway cluster, as
#                       "name=value name=value" (ALTER SYSTEM, then a
#                       restart), e.g. "max_wal_size=8GB"; default none
#
# Every step is bounded by BENCH_STEP_TIMEOUT; progress and diagnostics go to
# stderr, the summary table to stdout.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=${PGJOBS_BENCH:-$ROOT/build/tools/bench/pgjobs-bench}
JOBS=${BENCH_JOBS:-100000}
LATENCY_JOBS=${BENCH_LATENCY_JOBS:-1000}
PRESET=${BENCH_PRESET:---prefetch 1000}
SCENARIOS=${BENCH_SCENARIOS:-backlog latency}
BIG_JOBS=${BENCH_BIG_JOBS:-1000000}
SCHEMA=${BENCH_SCHEMA:-pgjobs_bench}
STEP_TIMEOUT=${BENCH_STEP_TIMEOUT:-600}
QUEUE=bench
GAP_MS=20
LOADED_JOBS=${BENCH_LOADED_JOBS:-2000000}

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
    if [[ -n $REDIS_DIR ]]; then
        "$ROOT/tools/redis-throwaway" stop "$REDIS_DIR" >/dev/null 2>&1 || true
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
# Broker flags added to reset, enqueue and worker (the redis scenario).
declare -a BROKER_FLAGS=()
LABEL_PREFIX=''
REDIS_DIR=''

bench() {
    local cmd=$1
    shift
    case $cmd in
        reset | enqueue | worker) set -- "$@" "${BROKER_FLAGS[@]}" ;;
    esac
    timeout -k 5 "$STEP_TIMEOUT" "$BENCH" "$cmd" "$@"
}

brokers() {
    local url b
    REDIS_DIR=$WORK/redis
    url=$("$ROOT/tools/redis-throwaway" start "$REDIS_DIR" 2>>"$WORK/log") ||
        die "could not start redis-server; log: $(tail -n 3 "$WORK/log")"
    for b in postgres redis; do
        BROKER_FLAGS=(--broker "$b" --redis-url "$url")
        LABEL_PREFIX="$b: "
        backlog "${LABEL_PREFIX}backlog c=2" 2
        backlog "${LABEL_PREFIX}backlog c=8" 8
        latency
    done
    BROKER_FLAGS=()
    LABEL_PREFIX=''
}

# Evaluates a Python expression over d, the JSON of FILE's last line (but
# the handler percentiles a worker with --task-config prints after its own).
json_calc() {
    python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]).read().splitlines()
         if l.strip() and "handler_ms_p50" not in l]
d = json.loads(lines[-1])
print(eval(sys.argv[2]))' "$1" "$2"
}

# stdout of a worker must be exactly READY and one JSON line (two with
# --task-config: the handler's percentiles follow).
check_worker_output() {
    local out=$1 lines
    lines=$(wc -l <"$out")
    [[ $(sed -n 1p "$out") == READY ]] && ((lines == 2 || (lines == 3 &&
        $(grep -c handler_ms_p50 "$out") == 1))) ||
        die "worker stdout is not READY + one JSON line (see $out)"
}

reset() {
    bench reset --dsn "$DSN" --schema "$SCHEMA" --queue "$QUEUE" 2>>"$WORK/log" ||
        die "reset failed; log: $(tail -n 3 "$WORK/log")"
}

psql_q() {
    psql -X -q -v ON_ERROR_STOP=1 "$DSN" "$@"
}

# What production sees: statistics taken after the bulk enqueue.
analyze() {
    psql_q -c 'CHECKPOINT' -c "VACUUM ANALYZE $SCHEMA.jobs" 2>>"$WORK/log" ||
        die "CHECKPOINT; VACUUM ANALYZE failed; log: $(tail -n 3 "$WORK/log")"
}

# CPU seconds used so far by every process named NAME (utime + stime), and
# by the children they have reaped (cutime + cstime): for postgres, the
# postmaster's reaped children are the backends that have exited.
cpu_seconds() {
    local name=$1
    python3 - "$name" <<'PY'
import os, sys
name, total = sys.argv[1], 0
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        stat = open(f'/proc/{pid}/stat').read()
    except OSError:
        continue
    comm, rest = stat[stat.index('(') + 1:stat.rindex(')')], stat[stat.rindex(')') + 2:].split()
    if comm == name:
        total += sum(int(x) for x in rest[11:15])  # utime stime cutime cstime
print(total / os.sysconf('SC_CLK_TCK'))
PY
}

# backlog LABEL CONCURRENCY [WORKER FLAGS...]
backlog() {
    local label=$1 concurrency=$2 enq=$WORK/enqueue.out out=$WORK/worker.out
    shift 2
    reset
    bench enqueue --dsn "$DSN" --schema "$SCHEMA" --queue "$QUEUE" --count "$JOBS" \
        --batch 1000 >"$enq" 2>>"$WORK/log" || die "$label: enqueue failed; see the log above"
    analyze
    # Where the CPU goes while the worker runs: the worker process (bash's
    # times of its reaped children), PostgreSQL's processes, redis-server.
    local pg0 redis0 worker0 pg1 redis1 worker1
    pg0=$(cpu_seconds postgres)
    redis0=$(cpu_seconds redis-server)
    times >"$WORK/times0"  # not in a subshell: its children's times start at 0
    bench worker --dsn "$DSN" --schema "$SCHEMA" --queue "$QUEUE" --concurrency "$concurrency" \
        --exit-after "$JOBS" --max-seconds "$STEP_TIMEOUT" "$@" >"$out" 2>>"$WORK/log" ||
        die "$label: worker failed; log: $(tail -n 3 "$WORK/log")"
    times >"$WORK/times1"
    worker0=$(sed -n 2p "$WORK/times0")
    worker1=$(sed -n 2p "$WORK/times1")
    pg1=$(cpu_seconds postgres)
    redis1=$(cpu_seconds redis-server)
    check_worker_output "$out"
    local cpu
    cpu=$(python3 - "$worker0" "$worker1" "$pg0" "$pg1" "$redis0" "$redis1" "$JOBS" <<'PY'
import re, sys
def secs(times):  # bash's `times` line: "0m1.234s 0m0.567s"
    return sum(int(m) * 60 + float(s) for m, s in re.findall(r'(\d+)m([\d.]+)s', times))
w0, w1, p0, p1, r0, r1, n = sys.argv[1:]
per = 1e6 / int(n)  # CPU microseconds per job
print(f"{(secs(w1) - secs(w0)) * per:.0f}/{(float(p1) - float(p0)) * per:.0f}/"
      f"{(float(r1) - float(r0)) * per:.0f}")
PY
)
    local enq_rate run_rate rss
    enq_rate=$(json_calc "$enq" 'round(d["enqueued"] / d["seconds"])')
    run_rate=$(json_calc "$out" \
        'round(d["count"] / ((d["last_end_ms"] - d["first_start_ms"]) / 1000))')
    rss=$(json_calc "$out" 'round(d.get("max_rss_kb", 0) / 1024)')
    msg "$label: enqueue $enq_rate jobs/s, worker $run_rate jobs/s, peak RSS $rss MB," \
        "CPU µs per job worker/postgres/redis $cpu"
    ROWS+=("$(printf '%-40s %14s %14s %8s %16s' "$label" "$enq_rate" "$run_rate" "$rss MB" "$cpu")")
}

# four_workers LABEL SCHEMA... : four worker processes (c=2, defaults), the
# i-th on the i-th schema given (the same one four times: they share one
# backlog), each stopping when its queue is empty. JOBS jobs in all, split
# evenly between the distinct schemas. Row: jobs/s of them all, and the CPU
# per job of the workers and of PostgreSQL.
four_workers() {
    local label=$1 i s
    shift
    local -a schemas=("$@") distinct pids=()
    mapfile -t distinct < <(printf '%s\n' "${schemas[@]}" | sort -u)
    for s in "${distinct[@]}"; do
        bench reset --dsn "$DSN" --schema "$s" --queue "$QUEUE" 2>>"$WORK/log" ||
            die "$label: reset of $s failed"
        bench enqueue --dsn "$DSN" --schema "$s" --queue "$QUEUE" \
            --count $((JOBS / ${#distinct[@]})) --batch 1000 >"$WORK/enqueue.out" 2>>"$WORK/log" ||
            die "$label: enqueue failed"
        psql_q -c 'CHECKPOINT' -c "VACUUM ANALYZE $s.jobs" 2>>"$WORK/log" ||
            die "$label: CHECKPOINT; VACUUM ANALYZE failed"
    done
    local pg0 pg1
    pg0=$(cpu_seconds postgres)
    times >"$WORK/times0"
    for i in 0 1 2 3; do
        bench worker --dsn "$DSN" --schema "${schemas[i]}" --queue "$QUEUE" --concurrency 2 \
            --exit-when-empty --max-seconds "$STEP_TIMEOUT" >"$WORK/w$i.out" 2>>"$WORK/log" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || die "$label: a worker failed; log: $(tail -n 3 "$WORK/log")"; done
    times >"$WORK/times1"
    pg1=$(cpu_seconds postgres)
    local result
    result=$(python3 - "$(sed -n 2p "$WORK/times0")" "$(sed -n 2p "$WORK/times1")" "$pg0" "$pg1" \
        "$WORK"/w[0-3].out <<'PY'
import json, re, sys
def secs(times):  # bash's `times` line: "0m1.234s 0m0.567s"
    return sum(int(m) * 60 + float(s) for m, s in re.findall(r'(\d+)m([\d.]+)s', times))
w0, w1, p0, p1 = sys.argv[1:5]
ds = [json.loads([l for l in open(f).read().splitlines() if l.strip()][-1]) for f in sys.argv[5:]]
ds = [d for d in ds if d["count"] > 0]
n = sum(d["count"] for d in ds)
rate = n / ((max(d["last_end_ms"] for d in ds) - min(d["first_start_ms"] for d in ds)) / 1000)
print(f"{rate:.0f} {(secs(w1) - secs(w0)) * 1e6 / n:.0f}/{(float(p1) - float(p0)) * 1e6 / n:.0f}/-")
PY
)
    local run_rate=${result% *} cpu=${result#* }
    msg "$label: worker $run_rate jobs/s in total, CPU µs per job workers/postgres/- $cpu"
    ROWS+=("$(printf '%-40s %14s %14s %8s %16s' "$label" - "$run_rate" - "$cpu")")
}

# Four worker processes share one backlog; then, as a control, four on four
# schemas of a quarter each: what running four processes costs on this
# machine when they share nothing but the server.
workers4() {
    four_workers "backlog, 4 workers c=2" "$SCHEMA" "$SCHEMA" "$SCHEMA" "$SCHEMA"
    four_workers "4 workers c=2, 4 schemas (control)" \
        "${SCHEMA}_1" "${SCHEMA}_2" "${SCHEMA}_3" "${SCHEMA}_4"
    psql_q -c "DROP SCHEMA ${SCHEMA}_1, ${SCHEMA}_2, ${SCHEMA}_3, ${SCHEMA}_4 CASCADE" \
        2>>"$WORK/log" || die "dropping the control's schemas failed"
    connections_penalty
}

# What more connections than cores cost on this machine, without pgjobs:
# primary-key reads of a 100,000-row table from 2 and from 8 pgbench clients
# (each its own thread), alternating, 5 s each, the mean of each. Where 8
# clients give fewer reads per second than 2, no client of PostgreSQL gains
# from more processes than cores here.
connections_penalty() {
    command -v pgbench >/dev/null || { msg "workers4: no pgbench, machine check skipped"; return 0; }
    local script=$WORK/read.sql round c tps
    local -A sum=([2]=0 [8]=0)
    psql_q -c "CREATE TABLE $SCHEMA.probe AS SELECT g AS id, md5(g::text) AS v
                   FROM generate_series(1, 100000) g" \
        -c "ALTER TABLE $SCHEMA.probe ADD PRIMARY KEY (id)" -c "VACUUM ANALYZE $SCHEMA.probe" \
        2>>"$WORK/log" || die "workers4: creating the probe table failed"
    printf '\\set id random(1, 100000)\nSELECT v FROM %s.probe WHERE id = :id;\n' "$SCHEMA" >"$script"
    for round in 1 2; do
        for c in 2 8; do
            tps=$(pgbench -n -M prepared -c "$c" -j "$c" -T 5 -f "$script" "$DSN" 2>>"$WORK/log" |
                sed -n 's/^tps = \([0-9]*\).*/\1/p')
            [[ -n $tps ]] || die "workers4: pgbench failed; log: $(tail -n 3 "$WORK/log")"
            sum[$c]=$((sum[$c] + tps))
        done
    done
    psql_q -c "DROP TABLE $SCHEMA.probe" 2>>"$WORK/log"
    local two=$((sum[2] / 2)) eight=$((sum[8] / 2))
    msg "workers4: PostgreSQL alone, key reads/s from 2 clients $two, from 8 clients $eight ($((100 * eight / two)) %)"
    ROWS+=("$(printf '%-40s %14s %14s   %s %%' "machine: pgbench key reads/s, 2 / 8 cl." "$two" "$eight" "$((100 * eight / two))")")
}

# BIG_JOBS jobs, 10 % delayed, three priorities, autovacuum on; the ready
# ones are run by one worker (c=2, defaults); then the hot table's size.
big() {
    local label="backlog of $BIG_JOBS, c=2" out=$WORK/worker.out ready size_before size_after
    reset
    local t0 t1
    t0=$(date +%s.%N)
    psql_q -c "INSERT INTO $SCHEMA.jobs (task, args, queue, priority, run_at)
        SELECT 'noop', jsonb_build_object('i', g), '$QUEUE', g % 3 * 3,
               now() + CASE WHEN g % 10 = 0 THEN interval '1 hour' ELSE interval '0' END
        FROM generate_series(1, $BIG_JOBS) g" 2>>"$WORK/log" || die "$label: insert failed"
    t1=$(date +%s.%N)
    analyze
    size_before=$(psql_q -tAc "SELECT pg_size_pretty(pg_total_relation_size('$SCHEMA.jobs'))")
    ready=$(psql_q -tAc "SELECT count(*) FROM $SCHEMA.jobs WHERE run_at <= now()")
    bench worker --dsn "$DSN" --schema "$SCHEMA" --queue "$QUEUE" --concurrency 2 \
        --exit-after "$ready" --max-seconds "$STEP_TIMEOUT" >"$out" 2>>"$WORK/log" ||
        die "$label: worker failed; log: $(tail -n 3 "$WORK/log")"
    # The delayed tenth would run an hour later; delete it, then what a
    # vacuum gives back: the heap shrinks to its last used page, indexes
    # keep their pages (reused by the next backlog).
    psql_q -c "DELETE FROM $SCHEMA.jobs" -c "VACUUM $SCHEMA.jobs" 2>>"$WORK/log"
    size_after=$(psql_q -tAc "SELECT 'heap ' || pg_size_pretty(pg_relation_size('$SCHEMA.jobs'))
        || ' + indexes ' || pg_size_pretty(pg_indexes_size('$SCHEMA.jobs'))")
    local run_rate enq_rate
    enq_rate=$(python3 -c "print(round($BIG_JOBS / ($t1 - $t0)))")
    run_rate=$(json_calc "$out" \
        'round(d["count"] / ((d["last_end_ms"] - d["first_start_ms"]) / 1000))')
    msg "$label: worker $run_rate jobs/s over $ready ready jobs; jobs table $size_before full, $size_after after the drain and VACUUM"
    ROWS+=("$(printf '%-40s %14s %14s   jobs table %s -> %s' "$label" "$enq_rate" "$run_rate" "$size_before" "$size_after")")
}

# Single-row INSERT transactions from 8 clients, with the NOTIFY trigger (no
# worker idle: how a busy system enqueues) and with the trigger disabled,
# alternating (with, without, with, without; 8 s each, the mean of each), at
# synchronous_commit on (bound by the WAL flush, as a producer commits) and
# off (bound by the CPU: what the trigger itself costs).
notify() {
    command -v pgbench >/dev/null || { msg "notify: no pgbench, skipped"; return 0; }
    local script=$WORK/insert.sql commit round tps with without
    printf "INSERT INTO %s.jobs (task, queue) VALUES ('noop', '%s');\n" "$SCHEMA" "$QUEUE" >"$script"
    for commit in on off; do
        with=0 without=0
        for round in 1 2; do
            for trigger in ENABLE DISABLE; do
                reset
                psql_q -c "ALTER TABLE $SCHEMA.jobs $trigger TRIGGER jobs_notify"
                tps=$(PGOPTIONS="-c synchronous_commit=$commit" pgbench -n -M prepared -c 8 -j 2 \
                    -T 8 -f "$script" "$DSN" 2>>"$WORK/log" | sed -n 's/^tps = \([0-9]*\).*/\1/p')
                psql_q -c "ALTER TABLE $SCHEMA.jobs ENABLE TRIGGER jobs_notify"
                [[ -n $tps ]] || die "notify: pgbench failed; log: $(tail -n 3 "$WORK/log")"
                if [[ $trigger == ENABLE ]]; then with=$((with + tps)); else without=$((without + tps)); fi
            done
        done
        with=$((with / 2)) without=$((without / 2))
        msg "notify: single-row inserts, 8 clients, synchronous_commit $commit: $with tps with the NOTIFY trigger, $without without ($((100 * with / without)) %)"
        ROWS+=("$(printf '%-40s %14s' "1-row inserts, 8 clients, sync $commit, NOTIFY" "$with")")
        ROWS+=("$(printf '%-40s %14s   %s %%' "1-row inserts, 8 clients, sync $commit, none" "$without" "$((100 * with / without))")")
    done
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

# latency [loaded]: loaded = while another queue drains a backlog of
# BENCH_LOADED_JOBS (default 2,000,000) with its own worker (c=2, defaults).
latency() {
    local label="${LABEL_PREFIX}latency c=2, $LATENCY_JOBS jobs, ${GAP_MS} ms apart" out=$WORK/latency.out
    local loaded=${1:-} backlog_pid='' backlog_out=$WORK/backlog-load.out
    reset
    : >"$out"
    if [[ -n $loaded ]]; then
        label="latency under load, $LATENCY_JOBS jobs, ${GAP_MS} ms apart"
        bench enqueue --dsn "$DSN" --schema "$SCHEMA" --queue "${QUEUE}_backlog" \
            --count "$LOADED_JOBS" >/dev/null 2>>"$WORK/log" || die "loaded: enqueue failed"
        analyze
        bench worker --dsn "$DSN" --schema "$SCHEMA" --queue "${QUEUE}_backlog" --concurrency 2 \
            --exit-after "$LOADED_JOBS" --max-seconds "$STEP_TIMEOUT" >"$backlog_out" 2>>"$WORK/log" &
        backlog_pid=$!
    fi
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
    if [[ -n $backlog_pid ]]; then
        # The figure only counts if the backlog was still draining throughout.
        kill -0 "$backlog_pid" 2>/dev/null ||
            die "loaded: the backlog drained before the latency run ended; raise BENCH_LOADED_JOBS"
        local left
        left=$(psql_q -tAc "SELECT count(*) FROM $SCHEMA.jobs WHERE queue = '${QUEUE}_backlog'")
        label="$label, $left backlog jobs left"
        wait "$backlog_pid" || die "loaded: the backlog worker failed; log: $(tail -n 3 "$WORK/log")"
    fi
    local stats
    # Nearest-rank percentiles.
    stats=$(json_calc "$out" '(lambda l: "p50 %.2f ms   p99 %.2f ms   max %.2f ms   (n=%d)" % (
        l[-(-len(l) * 50 // 100) - 1], l[-(-len(l) * 99 // 100) - 1], l[-1], len(l)))(
        sorted(d["latencies_ms"]))')
    # The producer's own wait per job (INSERT and commit): the part of the
    # latency that is the database's commit, not the queue.
    stats="$stats; enqueue call $(json_calc "$WORK/stamped.out" '(lambda l: "p50 %.2f ms p99 %.2f ms" % (
        l[-(-len(l) * 50 // 100) - 1], l[-(-len(l) * 99 // 100) - 1]))(sorted(d["call_ms"]))')"
    msg "$label: $stats"
    LATENCY_ROWS+=("$(printf '%-40s %s' "$label" "$stats")")
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
        if [[ -n ${BENCH_PG_SETTINGS:-} ]]; then
            local setting
            for setting in $BENCH_PG_SETTINGS; do
                [[ $setting =~ ^[a-z_]+=[^\']+$ ]] ||
                    die "BENCH_PG_SETTINGS: '$setting' is not name=value (e.g. max_wal_size=8GB)"
                psql_q -c "ALTER SYSTEM SET ${setting%%=*} = '${setting#*=}'" 2>>"$WORK/log" ||
                    die "BENCH_PG_SETTINGS: the server refused '$setting'; log: $(tail -n 2 "$WORK/log")"
            done
            DSN=$("$ROOT/tools/pg-throwaway" restart "$CLUSTER_DIR" 2>>"$WORK/log") ||
                die "could not restart the cluster with BENCH_PG_SETTINGS; log: $(tail -n 5 "$WORK/log")"
            where="$where with $BENCH_PG_SETTINGS"
            msg "server settings: $BENCH_PG_SETTINGS"
        fi
    fi
    local -a preset
    read -r -a preset <<<"$PRESET"

    [[ $SCENARIOS == all ]] && SCENARIOS="backlog workers4 big notify latency loaded sql"
    local s
    for s in $SCENARIOS; do
        case $s in
            backlog)
                backlog "backlog c=2" 2
                backlog "backlog c=8" 8
                backlog "backlog c=2 $PRESET" 2 "${preset[@]}"
                backlog "backlog c=8 $PRESET" 8 "${preset[@]}"
                ;;
            workers4) workers4 ;;
            big) big ;;
            notify) notify ;;
            latency) latency ;;
            loaded) latency loaded ;;
            redis) brokers ;;
            sql)
                echo '{"tasks": {"noop": {"kind": "sql", "sql": "SELECT 1 AS ok"}}}' >"$WORK/sql.conf"
                backlog "sql task (SELECT 1), c=8" 8 --task-config "$WORK/sql.conf"
                ;;
            *) die "unknown scenario '$s' (backlog, workers4, big, notify, latency, loaded, redis, sql, all)" ;;
        esac
    done

    printf '\npgjobs-bench: %s jobs per backlog run, %s, %s cores, tables analyzed before each run\n' \
        "$JOBS" "$where" "$(nproc)"
    printf '%-40s %14s %14s %8s %16s\n' scenario 'enqueue jobs/s' 'worker jobs/s' 'RSS' \
        'CPU µs/job w/pg/redis'
    printf '%s\n' "${ROWS[@]}"
    ((${#LATENCY_ROWS[@]} == 0)) || printf '%s\n' "${LATENCY_ROWS[@]}"
}

LATENCY_ROWS=()
main "$@"
