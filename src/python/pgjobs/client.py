"""The producer side: enqueue jobs on the application's own connection.

    pgjobs.configure(connection=django.db.connection)   # or a psycopg2/psycopg 3
                                                        # connection, schema="pgjobs"
    result = send_report.delay(user_id=7)   # SELECT pgjobs.enqueue(...) on that
                                            # connection: the job exists only if
                                            # the application's transaction commits
    result.status, result.progress, result.get(timeout=60)
"""

import datetime
import json
import re
import time
from typing import Any, Dict, List, Optional, Union

_settings: Dict[str, Any] = {"connection": None, "schema": "pgjobs"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


class TimeoutError(Exception):  # noqa: A001 - Celery's name, as celery.exceptions has it
    """AsyncResult.get() waited longer than its timeout."""


class TaskFailed(Exception):
    """AsyncResult.get() of a job that failed or was cancelled."""


def configure(connection: Any = None, schema: str = "pgjobs") -> None:
    """Sets the DB-API connection jobs are enqueued on (Django's
    ``django.db.connection``, a psycopg2 or psycopg 3 connection) and the
    pgjobs schema. Call once at start-up, e.g. in an AppConfig.ready()."""
    if not _IDENTIFIER.match(schema):
        raise ValueError("schema must be a plain SQL identifier such as pgjobs, not "
                         "{!r}".format(schema))
    _settings["connection"] = connection
    _settings["schema"] = schema


def _connection(connection: Any) -> Any:
    conn = connection if connection is not None else _settings["connection"]
    if conn is None:
        raise RuntimeError(
            "pgjobs has no database connection: call pgjobs.configure(connection=...) "
            "once at start-up (with Django: pgjobs.configure(connection=django.db.connection))")
    return conn


def _query(connection: Any, sql: str, params: tuple) -> Optional[tuple]:
    cursor = _connection(connection).cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchone()
    finally:
        cursor.close()


def _seconds(value: Union[None, float, datetime.timedelta]) -> Optional[float]:
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return None if value is None else float(value)


def enqueue(task: str, args: Optional[Dict[str, Any]] = None, queue: str = "default",
            priority: int = 5, countdown: Union[None, float, datetime.timedelta] = None,
            eta: Optional[datetime.datetime] = None, max_attempts: int = 4,
            timeout: Union[None, float, datetime.timedelta] = None,
            unique_key: Optional[str] = None, connection: Any = None) -> "AsyncResult":
    """Enqueues one job with ``SELECT pgjobs.enqueue(...)`` and returns its handle.

    countdown: seconds (or a timedelta) from now; eta: an aware datetime (a
    naive one is taken as UTC); give one or neither. priority: 0-9, 9 first.
    """
    if countdown is not None and eta is not None:
        raise ValueError("give countdown or eta, not both")
    if eta is not None and eta.tzinfo is None:
        eta = eta.replace(tzinfo=datetime.timezone.utc)
    schema = _settings["schema"]
    row = _query(connection,
                 "SELECT {}.enqueue(%s, %s::jsonb, %s, %s, %s::timestamptz, "
                 "%s * interval '1 second', %s, %s * interval '1 second', %s)".format(schema),
                 (task, json.dumps(args or {}), queue, int(priority),
                  eta.isoformat() if eta is not None else None, _seconds(countdown),
                  int(max_attempts), _seconds(timeout), unique_key))
    return AsyncResult(int(row[0]), connection=connection)


# pgjobs state -> Celery state name.
_CELERY_STATES = {"running": "STARTED", "succeeded": "SUCCESS", "failed": "FAILURE",
                  "cancelled": "REVOKED"}


class AsyncResult:
    """A job's handle, with Celery's AsyncResult names.

    status: PENDING (waiting), RETRY (waiting after a failed attempt), STARTED,
    SUCCESS, FAILURE or REVOKED (cancelled); unknown ids read as PENDING, like
    Celery. Each property reads the job's row once.
    """

    def __init__(self, id: int, connection: Any = None) -> None:  # noqa: A002 - Celery's name
        self.id = int(id)
        self._connection = connection

    def __repr__(self) -> str:
        return "<AsyncResult {}>".format(self.id)

    def _row(self) -> Optional[tuple]:
        return _query(self._connection,
                      "SELECT state, attempt, result, progress, errors FROM {}.all_jobs "
                      "WHERE id = %s".format(_settings["schema"]), (self.id,))

    @staticmethod
    def _json(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @property
    def status(self) -> str:
        row = self._row()
        if row is None:
            return "PENDING"
        state, attempt = row[0], row[1]
        if state == "pending":
            return "RETRY" if attempt > 0 and self._json(row[4]) else "PENDING"
        return _CELERY_STATES.get(state, state.upper())

    state = status

    @property
    def progress(self) -> Any:
        row = self._row()
        return None if row is None else self._json(row[3])

    info = progress

    @property
    def result(self) -> Any:
        """The result once SUCCESS; the last error message once FAILURE; else None."""
        row = self._row()
        if row is None:
            return None
        if row[0] == "succeeded":
            return self._json(row[2])
        if row[0] in ("failed", "cancelled"):
            errors = self._json(row[4]) or []
            return errors[-1].get("error") if errors else row[0]
        return None

    @property
    def errors(self) -> List[Dict[str, Any]]:
        row = self._row()
        return [] if row is None else (self._json(row[4]) or [])

    def ready(self) -> bool:
        return self.status in ("SUCCESS", "FAILURE", "REVOKED")

    def successful(self) -> bool:
        return self.status == "SUCCESS"

    def failed(self) -> bool:
        return self.status in ("FAILURE", "REVOKED")

    def get(self, timeout: Optional[float] = None, interval: float = 0.05,
            propagate: bool = True) -> Any:
        """Waits for the job to finish and returns its result; raises
        TaskFailed (when propagate) if it failed or was cancelled, and
        TimeoutError after timeout seconds. Reads the row with a growing pause
        (interval, doubling up to 1 s), so call it outside a transaction."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = interval
        while True:
            row = self._row()
            if row is not None and row[0] == "succeeded":
                return self._json(row[2])
            if row is not None and row[0] in ("failed", "cancelled"):
                errors = self._json(row[4]) or []
                message = errors[-1].get("error") if errors else row[0]
                if propagate:
                    raise TaskFailed("job {} {}: {}".format(self.id, row[0], message))
                return message
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError("job {} did not finish within {} s".format(self.id, timeout))
            wait = pause if deadline is None else min(pause, max(0.0, deadline - time.monotonic()))
            time.sleep(wait)
            pause = min(pause * 2, 1.0)
