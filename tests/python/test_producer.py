"""The producer side of the pgjobs Python module, against a real PostgreSQL.

Run by tests/e2e/python_module_test.cc, which starts the throwaway cluster, a
migrated schema (PGJOBS_TEST_DSN, PGJOBS_TEST_SCHEMA) and a `pgjobs worker`
with the Django runner of tests/python/djangoproject.
"""

import datetime
import json
import os
import threading
import time
import unittest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproj.settings")

import django  # noqa: E402

django.setup()

import psycopg2  # noqa: E402
from django.db import connection, transaction  # noqa: E402

import pgjobs  # noqa: E402
from testproj import tasks  # noqa: E402

SCHEMA = os.environ["PGJOBS_TEST_SCHEMA"]


class Boom(Exception):
    pass


def job_row(job_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT task, args, queue, priority, max_attempts, "
            "extract(epoch FROM run_at - now()) FROM {}.all_jobs WHERE id = %s".format(SCHEMA),
            [job_id])
        row = cursor.fetchone()
    if row is None:
        return None
    # Django reads jsonb as text; psycopg2 alone would parse it.
    args = json.loads(row[1]) if isinstance(row[1], str) else row[1]
    return (row[0], args) + tuple(row[2:])


class DjangoProducerTest(unittest.TestCase):
    def setUp(self):
        pgjobs.configure(connection=connection, schema=SCHEMA)

    def test_delay_in_an_atomic_block_that_rolls_back_enqueues_nothing(self):
        with self.assertRaises(Boom):
            with transaction.atomic():
                result = tasks.cleanup_old_data.delay(days=1)
                self.assertIsNotNone(job_row(result.id))  # there inside the transaction
                raise Boom()
        self.assertIsNone(job_row(result.id))
        self.assertEqual("PENDING", result.status)  # like an id Celery does not know

    def test_delay_in_an_atomic_block_that_commits_enqueues_with_the_task_defaults(self):
        with transaction.atomic():
            result = tasks.sync_all_platforms.apply_async(kwargs={"platforms": 1},
                                                          countdown=3600)
        task, args, queue, priority, max_attempts, delay = job_row(result.id)
        self.assertEqual(("testproj.tasks.sync_all_platforms", {"platforms": 1}, "default", 5, 4),
                         (task, args, queue, priority, max_attempts))
        self.assertAlmostEqual(3600, float(delay), delta=60)

    def test_apply_async_takes_eta_priority_and_queue(self):
        eta = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)
        result = tasks.cleanup_old_data.apply_async(kwargs={"days": 7}, eta=eta, priority=9,
                                                    queue="nightly")
        task, args, queue, priority, _, delay = job_row(result.id)
        self.assertEqual(({"days": 7}, "nightly", 9), (args, queue, priority))
        self.assertAlmostEqual(7200, float(delay), delta=60)
        with self.assertRaisesRegex(ValueError, "countdown or eta, not both"):
            tasks.cleanup_old_data.apply_async(countdown=1, eta=eta)

    def test_positional_args_are_refused_with_the_fix(self):
        with self.assertRaisesRegex(TypeError, r"apply_async\(kwargs=\{...\}\)"):
            tasks.cleanup_old_data.apply_async(args=(90,))

    def test_calling_the_function_runs_it_inline(self):
        self.assertEqual({"days": 5, "dry_run": True, "time_zone": "UTC"},
                         tasks.cleanup_old_data(days=5, dry_run=True))
        self.assertEqual("testproj.tasks.cleanup_old_data", tasks.cleanup_old_data.name)

    def test_get_returns_the_result_the_runner_produced(self):
        result = tasks.sync_all_platforms.delay(platforms=2)
        value = result.get(timeout=60)
        self.assertEqual(2, value["synced"])
        self.assertEqual("SUCCESS", result.status)
        self.assertTrue(result.ready() and result.successful())
        self.assertEqual({"done": 2, "total": 2}, result.progress)
        self.assertEqual(value, result.result)

    def test_get_of_a_failed_job_raises_task_failed_with_its_error(self):
        result = tasks.give_up.delay()
        with self.assertRaisesRegex(pgjobs.TaskFailed, "the account is gone"):
            result.get(timeout=60)
        self.assertEqual("FAILURE", result.status)
        self.assertEqual("the account is gone", result.result)

    def test_get_waits_for_a_notify_and_leaves_the_connection_as_it_was(self):
        result = tasks.cleanup_old_data.apply_async(kwargs={"days": 2}, countdown=1)
        flagged = []

        def watch():  # sees get() flag the job for a NOTIFY (migration 0013)
            conn = psycopg2.connect(os.environ["PGJOBS_TEST_DSN"])
            conn.autocommit = True
            with conn.cursor() as cursor:
                for _ in range(1000):
                    cursor.execute("SELECT notify_done FROM {}.jobs WHERE id = %s".format(SCHEMA),
                                   [result.id])
                    row = cursor.fetchone()
                    if row is None or row[0]:
                        flagged.append(row is not None)
                        break
                    time.sleep(0.01)
            conn.close()

        watcher = threading.Thread(target=watch)
        watcher.start()
        self.assertEqual(2, result.get(timeout=60)["days"])
        watcher.join()
        self.assertEqual([True], flagged)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_listening_channels()")
            self.assertEqual(0, cursor.fetchone()[0])

    def test_get_inside_a_transaction_reads_the_row_instead(self):
        with transaction.atomic():
            self.assertIsNone(pgjobs.client._Listener.open(None, 1))
        listener = pgjobs.client._Listener.open(None, 1)
        self.assertIsNotNone(listener)
        listener.close()

    def test_get_gives_up_after_its_timeout(self):
        result = tasks.whoami.apply_async(countdown=3600)
        with self.assertRaises(pgjobs.TimeoutError):
            result.get(timeout=0.3)
        self.assertEqual("PENDING", result.status)

    def test_without_a_connection_enqueue_says_how_to_configure_one(self):
        pgjobs.configure(connection=None, schema=SCHEMA)
        with self.assertRaisesRegex(RuntimeError, r"pgjobs.configure\(connection=...\)"):
            tasks.whoami.delay()
        with self.assertRaisesRegex(ValueError, "plain SQL identifier"):
            pgjobs.configure(connection=connection, schema="x; DROP TABLE y")


class Psycopg2ProducerTest(unittest.TestCase):
    def setUp(self):
        self.conn = psycopg2.connect(os.environ["PGJOBS_TEST_DSN"])
        pgjobs.configure(connection=self.conn, schema=SCHEMA)

    def tearDown(self):
        self.conn.close()

    def test_get_without_autocommit_waits_and_leaves_no_transaction_open(self):
        result = tasks.cleanup_old_data.apply_async(kwargs={"days": 4}, countdown=0.5)
        self.conn.commit()
        self.assertEqual(4, result.get(timeout=60)["days"])
        self.assertEqual(psycopg2.extensions.TRANSACTION_STATUS_IDLE,
                         self.conn.get_transaction_status())
        with self.conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_listening_channels()")
            self.assertEqual(0, cursor.fetchone()[0])
        self.conn.rollback()

    def test_a_result_that_is_a_string_comes_back_as_that_string(self):
        # psycopg2 decodes jsonb itself; the module decoded it again: "ok"
        # raised JSONDecodeError, "42" came back as 42 and "null" as None.
        results = {v: tasks.echo.delay(value=v) for v in ("ok", "42", "null", '{"a": 1}')}
        results["dict"] = tasks.echo.delay(value={"a": [1, "x"]})
        self.conn.commit()
        for value, result in results.items():
            expected = {"a": [1, "x"]} if value == "dict" else value
            self.assertEqual(expected, result.get(timeout=60))
            self.assertEqual(expected, result.result)
        self.conn.rollback()

    def test_the_job_commits_or_rolls_back_with_the_application_transaction(self):
        rolled_back = tasks.whoami.apply_async(countdown=3600)
        self.conn.rollback()
        committed = tasks.whoami.apply_async(countdown=3600)
        self.conn.commit()
        self.assertEqual("PENDING", committed.status)
        with self.conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM {}.all_jobs WHERE id = ANY(%s)".format(SCHEMA),
                           ([rolled_back.id, committed.id],))
            self.assertEqual(1, cursor.fetchone()[0])


if __name__ == "__main__":
    unittest.main()
