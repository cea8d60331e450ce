"""pgjobs for Python: define tasks, enqueue them transactionally, run them.

Standard library only, Python 3.9+.

    import pgjobs

    @pgjobs.task(queue="sync", max_attempts=4)
    def cleanup_old_data(days=90):
        ...

    pgjobs.configure(connection=django.db.connection)  # once, at start-up
    cleanup_old_data.delay(days=30)        # a job, committed with your transaction
    cleanup_old_data(days=30)              # still a plain call, run inline

Jobs run in ``pgjobs worker`` through a runner task that starts
``python3 -m pgjobs.runner`` (see pgjobs.runner and the README).
"""

from pgjobs._tasks import (
    Discard,
    Job,
    JobStopped,
    Retry,
    Task,
    TimeLimitExceeded,
    current_job,
    progress,
    registry,
    task,
)
from pgjobs.client import AsyncResult, TaskFailed, TimeoutError, configure, enqueue

__all__ = [
    "AsyncResult",
    "Discard",
    "Job",
    "JobStopped",
    "Retry",
    "Task",
    "TaskFailed",
    "TimeLimitExceeded",
    "TimeoutError",
    "configure",
    "current_job",
    "enqueue",
    "progress",
    "registry",
    "task",
]
