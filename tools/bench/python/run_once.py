"""One job per process, as a "command" task runs a Django task: set up Django,
import the tasks, run the job given on stdin, print its result."""

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_settings")
import django  # noqa: E402

django.setup()
import bench_tasks  # noqa: E402

args = json.loads(sys.stdin.readline() or "{}")
print(json.dumps(bench_tasks.noop(**args)))
