#!/usr/bin/env bash
# tools/bench/runner_vs_command.sh: a no-op Django task (tools/bench/python)
# run through the "runner" kind (python3 -m pgjobs.runner, one process per
# slot) and through the "command" kind (a new python3 + django.setup() per
# job), by `pgjobs-bench worker --task-config`, on a throwaway cluster.
#
# Usage: tools/bench/runner_vs_command.sh [RUNNER_JOBS] [COMMAND_JOBS] [CONCURRENCY]
#        (defaults 20000, 200, 2)
# Prints per kind: jobs/s (N / (last handler end - first handler start)) and
# the handler's wall time per job (p50/p99: pgjobs' pipe round trip, JSON and
# the runner's dispatch, since the task itself does nothing; for the command
# kind, the whole process start).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=${PGJOBS_BENCH:-$ROOT/build/tools/bench/pgjobs-bench}
RUNNER_JOBS=${1:-20000}
COMMAND_JOBS=${2:-200}
CONCURRENCY=${3:-2}
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/pgjobs-runner-bench.XXXXXX)
chmod 755 "$WORK"
trap '"$ROOT/tools/pg-throwaway" destroy "$WORK/pg" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
DSN=$("$ROOT/tools/pg-throwaway" start "$WORK/pg")
PYPATH="$ROOT/tools/bench/python:$ROOT/src/python"

cat >"$WORK/runner.conf" <<CONF
{"tasks": {"bench": {"kind": "runner",
  "command": ["$PY", "-m", "pgjobs.runner", "--django-settings", "bench_settings", "bench_tasks"],
  "env": {"PYTHONPATH": "$PYPATH", "PYTHONDONTWRITEBYTECODE": "1"}, "serves": ["noop"]}}}
CONF
cat >"$WORK/command.conf" <<CONF
{"tasks": {"noop": {"kind": "command", "command": ["$PY", "$ROOT/tools/bench/python/run_once.py"],
  "env": {"PYTHONPATH": "$PYPATH", "PYTHONDONTWRITEBYTECODE": "1"}}}}
CONF

run() {
    local kind=$1 jobs=$2
    "$BENCH" reset --dsn "$DSN" --schema pgjobs_bench >/dev/null
    "$BENCH" enqueue --dsn "$DSN" --schema pgjobs_bench --count "$jobs" --batch 1000 >/dev/null
    "$BENCH" worker --dsn "$DSN" --schema pgjobs_bench --concurrency "$CONCURRENCY" \
        --exit-after "$jobs" --task-config "$WORK/$kind.conf" >"$WORK/$kind.out" 2>"$WORK/$kind.log" ||
        { tail -n 20 "$WORK/$kind.log"; exit 1; }
    $PY - "$kind" "$WORK/$kind.out" <<'PYEOF'
import json, sys
kind, path = sys.argv[1], sys.argv[2]
lines = [json.loads(l) for l in open(path) if l.startswith("{")]
run, handler = lines[0], lines[1]
seconds = (run["last_end_ms"] - run["first_start_ms"]) / 1000
print("{:8s} jobs={:6d} jobs/s={:9.1f} handler ms p50={:8.3f} p99={:8.3f}".format(
    kind, run["count"], run["count"] / seconds, handler["handler_ms_p50"], handler["handler_ms_p99"]))
PYEOF
}

run runner "$RUNNER_JOBS"
run command "$COMMAND_JOBS"
