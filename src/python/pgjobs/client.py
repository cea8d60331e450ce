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
import select
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
                      "SELECT state, attempt, result::text, progress::text, errors::text "
                      "FROM {}.all_jobs WHERE id = %s".format(_settings["schema"]), (self.id,))

    @staticmethod
    def _json(value: Any) -> Any:
        # The columns come as JSON text whatever the driver (psycopg2 would
        # decode jsonb itself, and a result that is a JSON string, such as
        # "ok", was then decoded twice).
        return None if value is None else json.loads(value)

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
        TimeoutError after timeout seconds.

        On a psycopg2 connection (Django's included) outside a transaction it
        waits with LISTEN: the job is flagged (notify_when_done) and its end
        wakes it at once, with a look at the row every 5 s besides. Otherwise
        (inside a transaction, psycopg 3, a role that may not flag jobs, a
        schema older than migration 0013) it reads the row with a growing
        pause, interval doubling up to 1 s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = interval
        listener = _Listener.open(self._connection, self.id)
        try:
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
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if left == 0.0:
                    raise TimeoutError("job {} did not finish within {} s".format(self.id,
                                                                                timeout))
                if listener is not None:
                    listener.wait(5.0 if left is None else min(5.0, left))
                else:
                    time.sleep(pause if left is None else min(pause, left))
                    pause = min(pause * 2, 1.0)
        finally:
            if listener is not None:
                listener.close()


class _Listener:
    """LISTEN on <schema>_done for one job, on the application's psycopg2
    connection (see migrations/0013_notify_done.sql)."""

    def __init__(self, raw: Any, channel: str, job_id: int) -> None:
        self._raw = raw
        self._channel = channel
        self._payload = str(job_id)

    @classmethod
    def open(cls, connection: Any, job_id: int) -> "Optional[_Listener]":
        conn = _connection(connection)
        if hasattr(conn, "ensure_connection"):  # Django's connection wrapper
            if conn.in_atomic_block:
                return None
            conn.ensure_connection()
            raw = conn.connection
        else:
            raw = conn
        # psycopg2: poll() and a notifies list. psycopg 3 has neither.
        if not (hasattr(raw, "poll") and isinstance(getattr(raw, "notifies", None), list)):
            return None
        if raw.get_transaction_status() != 0:  # not idle: LISTEN would wait for its commit
            return None
        schema = _settings["schema"]
        listener = cls(raw, schema + "_done", job_id)
        cursor = raw.cursor()
        try:
            cursor.execute("LISTEN " + listener._channel)
            cursor.execute("SELECT {}.notify_when_done(%s)".format(schema), (int(job_id),))
            if not raw.autocommit:
                raw.commit()
        except Exception:  # no such function (schema before 0013), or no right to it
            if raw.autocommit:
                cursor.execute("UNLISTEN " + listener._channel)
            else:
                raw.rollback()
            return None
        finally:
            cursor.close()
        return listener

    def wait(self, seconds: float) -> None:
        """Returns when the job's end is announced, or after seconds."""
        end = time.monotonic() + seconds
        if not self._raw.autocommit and self._raw.get_transaction_status() != 0:
            # The row reads of get() opened it (the connection was idle when
            # the LISTEN began); notifications wait for its end.
            self._raw.commit()
        while True:
            self._raw.poll()
            mine = [n for n in self._raw.notifies if n.channel == self._channel]
            if mine:
                self._raw.notifies[:] = [n for n in self._raw.notifies
                                         if n.channel != self._channel]
                if any(n.payload == self._payload for n in mine):
                    return
            left = end - time.monotonic()
            if left <= 0:
                return
            select.select([self._raw], [], [], left)

    def close(self) -> None:
        cursor = self._raw.cursor()
        try:
            cursor.execute("UNLISTEN " + self._channel)
            if not self._raw.autocommit:
                self._raw.commit()
        finally:
            cursor.close()
        self._raw.notifies[:] = [n for n in self._raw.notifies if n.channel != self._channel]
