"""The no-op Python task of `pgjobs-bench worker --task-config` (task "noop")."""

import pgjobs


@pgjobs.task(name="noop")
def noop(**kwargs):
    return None
