"""Task definitions and what a running task can call (progress, Retry)."""

import dataclasses
import datetime
import functools
import threading
from typing import Any, Callable, Dict, Optional, Union

# name -> Task, filled by @task as modules are imported.
registry: Dict[str, "Task"] = {}


class Retry(Exception):
    """Raise to run the job again later without using an attempt.

    ``after`` is in seconds (or a timedelta); None uses the task's retry_base.
    """

    def __init__(self, message: str = "retry later",
                 after: Union[None, float, datetime.timedelta] = None):
        super().__init__(message)
        if isinstance(after, datetime.timedelta):
            after = after.total_seconds()
        self.after = after


class Discard(Exception):
    """Raise to fail the job for good: no further attempts."""


class JobStopped(BaseException):
    """Raised inside a task the worker is stopping (cancelled, worker shutdown).

    A BaseException, like KeyboardInterrupt, so that ``except Exception`` in
    task code does not swallow it. Catch it to clean up, then re-raise.
    """

    def __init__(self, reason: str):
        super().__init__("job stopped: " + reason)
        self.reason = reason


class TimeLimitExceeded(JobStopped):
    """Raised inside a task whose time limit passed (Celery's SoftTimeLimitExceeded)."""


@dataclasses.dataclass(frozen=True)
class Job:
    """The job a runner is running now (pgjobs.current_job())."""

    id: int
    task: str
    args: Dict[str, Any]
    attempt: int
    max_attempts: int
    queue: str
    deadline: Optional[float]  # Unix seconds, or None


_local = threading.local()
_progress_sink: Optional[Callable[[int, Any], None]] = None


def current_job() -> Optional[Job]:
    """The job being run by pgjobs.runner in this thread, or None."""
    return getattr(_local, "job", None)


def progress(value: Any) -> None:
    """Reports progress of the running job (any JSON value, e.g. {"done": 40}).

    Outside a runner (a plain call of the function) it does nothing.
    """
    job = current_job()
    if job is not None and _progress_sink is not None:
        _progress_sink(job.id, value)


def _set_running(job: Optional[Job], sink: Optional[Callable[[int, Any], None]]) -> None:
    global _progress_sink
    _local.job = job
    _progress_sink = sink


class Task:
    """A function made a pgjobs task by @pgjobs.task.

    Calling it runs the function inline; .delay() and .apply_async() enqueue it.
    """

    def __init__(self, func: Callable[..., Any], name: Optional[str] = None,
                 queue: str = "default", max_attempts: int = 4, priority: int = 5,
                 timeout: Union[None, float, datetime.timedelta] = None):
        self.func = func
        self.name = name or "{}.{}".format(func.__module__, func.__qualname__)
        self.queue = queue
        self.max_attempts = max_attempts
        self.priority = priority
        self.timeout = timeout
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return "<pgjobs task {}>".format(self.name)

    def delay(self, **kwargs: Any) -> "AsyncResult":
        """Enqueues the task with kwargs as its args (Celery's delay)."""
        return self.apply_async(kwargs=kwargs)

    def apply_async(self, args: Optional[tuple] = None,
                    kwargs: Optional[Dict[str, Any]] = None,
                    countdown: Optional[float] = None,
                    eta: Optional[datetime.datetime] = None,
                    priority: Optional[int] = None,
                    queue: Optional[str] = None,
                    max_attempts: Optional[int] = None,
                    timeout: Union[None, float, datetime.timedelta] = None,
                    unique_key: Optional[str] = None,
                    connection: Any = None) -> "AsyncResult":
        """Enqueues the task (Celery's apply_async); see pgjobs.enqueue."""
        if args:
            raise TypeError(
                "pgjobs passes a job's args as keyword arguments: use "
                "apply_async(kwargs={...}) or delay(name=value)")
        from pgjobs.client import enqueue
        return enqueue(self.name, kwargs or {},
                       queue=queue or self.queue,
                       priority=self.priority if priority is None else priority,
                       countdown=countdown, eta=eta,
                       max_attempts=max_attempts or self.max_attempts,
                       timeout=self.timeout if timeout is None else timeout,
                       unique_key=unique_key, connection=connection)


def task(func: Optional[Callable[..., Any]] = None, *, name: Optional[str] = None,
         queue: str = "default", max_attempts: int = 4, priority: int = 5,
         timeout: Union[None, float, datetime.timedelta] = None) -> Any:
    """Makes a function a task: ``@pgjobs.task`` or ``@pgjobs.task(queue="sync")``.

    The task's name is ``module.function`` unless name= says otherwise; it is
    what jobs carry in their ``task`` column.
    """

    def wrap(f: Callable[..., Any]) -> Task:
        t = Task(f, name=name, queue=queue, max_attempts=max_attempts,
                 priority=priority, timeout=timeout)
        registry[t.name] = t
        return t

    if func is not None:
        return wrap(func)
    return wrap
