"""Tasks shaped like those of the Django teams pgjobs is for."""

import os
import signal
import time

import pgjobs


@pgjobs.task(queue="default", max_attempts=4)
def sync_all_platforms(platforms=3):
    """A sync that reports progress and uses the database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    for done in range(1, platforms + 1):
        pgjobs.progress({"done": done, "total": platforms})
    print("synced {} platforms".format(platforms))  # stderr: the worker's log
    return {"synced": platforms, "runner_pid": os.getpid(), "backend_pid": backend}


@pgjobs.task
def cleanup_old_data(days=90, dry_run=False):
    from django.conf import settings

    return {"days": days, "dry_run": dry_run, "time_zone": settings.TIME_ZONE}


@pgjobs.task
def flaky(succeed_on=2):
    """Raises until its attempt succeed_on, then succeeds."""
    job = pgjobs.current_job()
    if job.attempt < succeed_on:
        raise ValueError("attempt {} failed on purpose".format(job.attempt))
    return {"attempt": job.attempt}


@pgjobs.task
def slow(seconds=60):
    """Runs past its time limit; cleans up when told to stop."""
    try:
        time.sleep(seconds)
    except pgjobs.JobStopped as stopped:
        print("slow: cleaning up after {}".format(stopped.reason))
        raise
    return "woke up"


@pgjobs.task
def kill_own_process():
    os.kill(os.getpid(), signal.SIGKILL)


@pgjobs.task
def whoami():
    return os.getpid()


@pgjobs.task
def wait_for_file(path):
    """Writes its runner's pid to path + ".pid", then waits for path (first attempt only)."""
    if pgjobs.current_job().attempt > 1:
        return "attempt {}".format(pgjobs.current_job().attempt)
    with open(path + ".pid", "w") as f:
        f.write(str(os.getpid()))
    while not os.path.exists(path):
        time.sleep(0.02)
    return "file found"


@pgjobs.task
def unencodable_result():
    return {"when": object()}


@pgjobs.task
def give_up():
    raise pgjobs.Discard("the account is gone")


@pgjobs.task
def echo(value=None):
    """Returns its argument: strings that look like JSON come back as strings."""
    return value


def double(x=1):
    """A plain function, run by its dotted name."""
    return x * 2
