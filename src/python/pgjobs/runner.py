"""The runner side: ``python3 -m pgjobs.runner [--django-settings M] module ...``.

Started by ``pgjobs worker`` for a task of kind "runner"; imports the given
modules once (after ``django.setup()`` when --django-settings is given), then
runs one job at a time as the worker sends them, speaking the JSON-lines
protocol described in the README ("Runner protocol"):

- stdin: {"type":"job",...} lines, {"type":"stop",...} just before SIGTERM,
  end of file to finish;
- stdout: {"type":"ready","protocol":1,"tasks":[...]} once, then progress lines
  and one outcome line per job. Anything the tasks print goes to stderr, which
  the worker logs with the job id: stdout carries only the protocol.

A job's task is a function decorated with @pgjobs.task in those modules, or
any function named by its dotted path ("app.tasks.cleanup"). Its args are
passed as keyword arguments; its return value, JSON-encoded, is the result.
"""

import argparse
import importlib
import json
import os
import queue
import signal
import sys
import threading
import traceback
from typing import Any, Callable, Dict, List, Optional

from pgjobs import _tasks

PROTOCOL_VERSION = 1
EXIT_START_FAILED = 3


class _Protocol:
    """The worker's end: stdout (moved to a private descriptor) and stdin."""

    def __init__(self) -> None:
        # The protocol keeps the real stdout; fd 1 and sys.stdout become
        # stderr, so a print() in a task cannot break the protocol.
        self._out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        self._lock = threading.Lock()

    def send(self, message: Dict[str, Any]) -> None:
        line = json.dumps(message, separators=(",", ":"), allow_nan=False)
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()


class Runner:
    def __init__(self, protocol: _Protocol, django: bool) -> None:
        self.protocol = protocol
        self.django = django
        self.jobs: "queue.Queue[Optional[Dict[str, Any]]]" = queue.Queue()
        self.current_id: Optional[int] = None
        self.stop_reason: Optional[str] = None
        self.stopping = False  # SIGTERM seen: exit after the current job
        self._state = threading.Lock()
        self._stop_line = threading.Event()  # the "stop" line of the current job came

    # -- input ------------------------------------------------------------
    def read_input(self) -> None:
        for raw in sys.stdin.buffer:
            try:
                message = json.loads(raw)
            except ValueError:
                _log("pgjobs.runner: ignoring a line that is not JSON from the worker")
                continue
            if message.get("type") == "job":
                self.jobs.put(message)
            elif message.get("type") == "stop":
                with self._state:
                    if message.get("id") == self.current_id:
                        self.stop_reason = str(message.get("reason") or "stopped")
                        self._stop_line.set()
        self.jobs.put(None)

    def on_sigterm(self, signum: int, frame: Any) -> None:
        # The worker writes the "stop" line just before SIGTERM: give the
        # input thread a moment to read it, to know why.
        if self.current_id is not None:
            self._stop_line.wait(0.5)
        with self._state:
            running = self.current_id is not None and not self.stopping
            reason = self.stop_reason or "timeout"
            self.stopping = True
        if not running:
            raise SystemExit(0)
        if reason == "timeout":
            raise _tasks.TimeLimitExceeded(reason)
        raise _tasks.JobStopped(reason)

    # -- running ----------------------------------------------------------
    def serve(self) -> int:
        threading.Thread(target=self.read_input, name="pgjobs-input", daemon=True).start()
        while True:
            message = self.jobs.get()
            if message is None:
                return 0
            self.run(message)
            if self.stopping:
                return 0

    def run(self, message: Dict[str, Any]) -> None:
        job = _tasks.Job(id=int(message["id"]), task=str(message["task"]),
                         args=message.get("args") or {}, attempt=int(message.get("attempt", 1)),
                         max_attempts=int(message.get("max_attempts", 1)),
                         queue=str(message.get("queue", "")), deadline=message.get("deadline"))
        with self._state:
            self.current_id = job.id
            self.stop_reason = None
            self._stop_line.clear()
        outcome: Dict[str, Any]
        try:
            outcome = self.call(job)
        except _tasks.JobStopped as e:
            outcome = {"type": "failure", "error": _describe(e),
                       "traceback": traceback.format_exc()}
        finally:
            with self._state:
                self.current_id = None
        outcome["id"] = job.id
        self.protocol.send(outcome)

    def call(self, job: "_tasks.Job") -> Dict[str, Any]:
        func = resolve(job.task)
        if func is None:
            return {"type": "failure",
                    "error": "task {!r} is not known to this runner: no @pgjobs.task of "
                             "that name in its modules and no function at that dotted "
                             "path".format(job.task)}
        if not isinstance(job.args, dict):
            return {"type": "discard", "error": "the job's args are not a JSON object"}
        self.django_connections()
        _tasks._set_running(job, self.send_progress)
        try:
            result = func(**job.args)
        except _tasks.Retry as e:
            return {"type": "retry", "after": e.after, "error": str(e)}
        except _tasks.Discard as e:
            return {"type": "discard", "error": str(e) or "discarded by the task"}
        except _tasks.JobStopped:
            raise
        except BaseException as e:  # noqa: B902 - a task's SystemExit fails the job, not the runner
            return {"type": "failure", "error": _describe(e),
                    "traceback": traceback.format_exc()}
        finally:
            _tasks._set_running(None, None)
            self.django_connections()
        try:
            json.dumps(result, allow_nan=False)
        except (TypeError, ValueError) as e:
            return {"type": "failure",
                    "error": "the result of task {} cannot be encoded as JSON ({}); return "
                             "dicts, lists, strings, numbers, booleans or None".format(
                                 job.task, e)}
        return {"type": "success", "result": result}

    def send_progress(self, job_id: int, value: Any) -> None:
        try:
            self.protocol.send({"type": "progress", "id": job_id, "progress": value})
        except (TypeError, ValueError) as e:
            raise TypeError("pgjobs.progress() needs a JSON value: {}".format(e)) from None

    def django_connections(self) -> None:
        # What Celery does around each task: drop connections that are broken
        # or past CONN_MAX_AGE, keep the others warm.
        if self.django:
            from django.db import close_old_connections
            close_old_connections()


def _describe(e: BaseException) -> str:
    text = str(e)
    return type(e).__name__ + (": " + text if text else "")


def _log(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def resolve(name: str) -> Optional[Callable[..., Any]]:
    """The function of task name: a registered @pgjobs.task, else module.attr."""
    if name in _tasks.registry:
        return _tasks.registry[name]
    module_name, _, attr = name.rpartition(".")
    if not module_name:
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    func = module
    for part in attr.split("."):
        func = getattr(func, part, None)
        if func is None:
            return None
    return func if callable(func) else None


def start(argv: List[str]) -> "Runner":
    parser = argparse.ArgumentParser(
        prog="python3 -m pgjobs.runner",
        description="Run pgjobs jobs of the tasks defined in MODULE... (started by "
                    "`pgjobs worker` for a task of kind \"runner\").")
    parser.add_argument("--django-settings", metavar="MODULE",
                        help="set DJANGO_SETTINGS_MODULE and call django.setup() first")
    parser.add_argument("--path", action="append", default=[], metavar="DIR",
                        help="add DIR to sys.path (repeatable)")
    parser.add_argument("modules", nargs="+", metavar="MODULE",
                        help="modules to import, e.g. app.tasks")
    options = parser.parse_args(argv)
    protocol = _Protocol()
    for path in reversed(options.path):
        sys.path.insert(0, path)
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    if options.django_settings:
        os.environ["DJANGO_SETTINGS_MODULE"] = options.django_settings
        import django
        django.setup()
    for module in options.modules:
        importlib.import_module(module)
    served = [n for n in os.environ.get("PGJOBS_TASKS", "").split("\n") if n]
    for name in served:
        if not name.endswith("*") and resolve(name) is None:
            raise LookupError(
                "task {!r} is neither a @pgjobs.task in the modules {} nor a function at "
                "that dotted path".format(name, options.modules))
    runner = Runner(protocol, django=bool(options.django_settings))
    signal.signal(signal.SIGTERM, runner.on_sigterm)
    tasks = sorted(set(_tasks.registry) | {n for n in served if not n.endswith("*")})
    protocol.send({"type": "ready", "protocol": PROTOCOL_VERSION, "tasks": tasks})
    return runner


def main(argv: Optional[List[str]] = None) -> int:
    try:
        runner = start(sys.argv[1:] if argv is None else argv)
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        _log("pgjobs.runner: start-up failed (above); no job was run")
        return EXIT_START_FAILED
    try:
        return runner.serve()
    except SystemExit as e:
        return int(e.code or 0)


if __name__ == "__main__":
    sys.exit(main())
