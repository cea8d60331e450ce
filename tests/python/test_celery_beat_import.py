"""`pgjobs schedules import-celery-beat` against real django-celery-beat tables.

Run by tests/e2e/celery_beat_import_test.cc with PGJOBS_TEST_DSN (whose
search_path is a schema of its own for Django's tables), PGJOBS_TEST_SCHEMA
(a migrated pgjobs schema) and PGJOBS_BIN (the pgjobs binary). The tables are
made by django-celery-beat's own migrations and filled through its models;
the imported schedules' next 20 fire times are compared with those that
Celery's own crontab and interval code gives beat.
"""

import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproj.settings")

import django  # noqa: E402

django.setup()

from celery.utils.time import ffwd  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django_celery_beat.models import (ClockedSchedule, CrontabSchedule,  # noqa: E402
                                       IntervalSchedule, PeriodicTask, SolarSchedule)

DSN = os.environ["PGJOBS_TEST_DSN"]
SCHEMA = os.environ["PGJOBS_TEST_SCHEMA"]
BIN = os.environ["PGJOBS_BIN"]
UTC = timezone.utc
NOW = datetime.datetime.now(UTC).replace(microsecond=0)
PARIS = ZoneInfo("Europe/Paris")
# Around Europe/Paris's changes of 2026: 29 March 01:00 UTC, 25 October 01:00 UTC.
DST_STARTS = [datetime.datetime(2026, 3, 28, 22, 0, tzinfo=UTC),
              datetime.datetime(2026, 10, 24, 22, 0, tzinfo=UTC),
              datetime.datetime(2026, 3, 29, 0, 5, tzinfo=UTC),
              datetime.datetime(2026, 10, 25, 0, 5, tzinfo=UTC)]


def pgjobs(*args, check=None):
    env = dict(os.environ, PGJOBS_DSN=DSN, PGJOBS_SCHEMA=SCHEMA)
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True, env=env, timeout=60)
    if check is not None and p.returncode != check:
        raise AssertionError("pgjobs %s: exit %d, expected %d\n%s%s" %
                             (" ".join(args), p.returncode, check, p.stdout, p.stderr))
    return p


def strip_comments(text):
    return "\n".join(re.sub(r'^\s*//.*$', "", line) for line in text.splitlines())


def iso(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def first_instant_reaching(wall, tz, after):
    """The first instant after `after` at which the wall clock of tz reads
    `wall` or later: when beat's loop, which compares wall times, sends it."""
    naive = wall.replace(tzinfo=None)
    found = []
    for fold in (0, 1):
        u = naive.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if u.astimezone(tz).replace(tzinfo=None) == naive and u > after:
            found.append(u)
    if found:
        return min(found)
    # Skipped by spring-forward: the end of the gap.
    t = naive.replace(tzinfo=tz, fold=0).astimezone(UTC) - timedelta(hours=3)
    while t <= after or t.astimezone(tz).replace(tzinfo=None) < naive:
        t += timedelta(minutes=1)
    return t


def beat_crontab_times(model, start, n=20):
    """The next n instants beat sends a crontab task after start, from
    Celery's own crontab arithmetic (remaining_delta, as remaining_estimate
    uses it), each run being the next one's last_run_at."""
    schedule = model.schedule  # django-celery-beat's TzAwareCrontab
    tz = schedule.tz
    out, last = [], start
    for _ in range(n):
        local = last.astimezone(tz)
        schedule.nowfun = lambda local=local: local
        begin, delta, _now = schedule.remaining_delta(local, ffwd=ffwd)
        last = first_instant_reaching(begin + delta, tz, last)
        out.append(last)
    return out


def beat_interval_times(model, last_run_at, start, n=20):
    """Celery's interval: due `run_every` after the last run."""
    schedule = model.schedule
    out, last = [], last_run_at
    while len(out) < n:
        schedule.nowfun = lambda last=last: last
        last = last + schedule.remaining_estimate(last)
        if last > start:
            out.append(last)
    return out


def pgjobs_next(entry, start, n=20):
    if "cron" in entry:
        args = ["schedules", "next", entry["cron"], "--tz", entry.get("tz", "UTC")]
    else:
        args = ["schedules", "next", "--every", entry["every"], "--start", entry["start"]]
    p = pgjobs(*args, "--from", iso(start), "-n", str(n), "--json", check=0)
    return [parse_iso(x["utc"]) for x in json.loads(p.stdout)]


def crontab(minute="*", hour="*", day_of_week="*", day_of_month="*", month_of_year="*",
            tz="UTC"):
    return CrontabSchedule.objects.create(
        minute=minute, hour=hour, day_of_week=day_of_week, day_of_month=day_of_month,
        month_of_year=month_of_year, timezone=ZoneInfo(tz))


class CeleryBeatImportTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        call_command("migrate", "django_celery_beat", verbosity=0)
        PeriodicTask.objects.all().delete()
        cls.tasks = {}

        def task(name, **fields):
            cls.tasks[name] = PeriodicTask.objects.create(name=name, **fields)

        task("cleanup every night", task="testproj.tasks.cleanup_old_data",
             crontab=crontab(minute="0", hour="3", tz="Europe/Paris"),
             kwargs=json.dumps({"days": 30}), queue="maintenance", expire_seconds=3600,
             description="drop old rows")
        task("paris quarter hours", task="app.tasks.poll",
             crontab=crontab(minute="*/15", tz="Europe/Paris"))
        task("paris half past two", task="app.tasks.night",
             crontab=crontab(minute="30", hour="2", tz="Europe/Paris"))
        task("weekday report", task="app.tasks.report", priority=3,
             crontab=crontab(minute="30", hour="8", day_of_week="mon-fri"))
        task("late evening wrap", task="app.tasks.wrap",
             crontab=crontab(minute="0,30", hour="22-2", day_of_week="fri-mon",
                             tz="America/New_York"))
        task("odd days on mondays", task="app.tasks.odd",
             crontab=crontab(minute="0", hour="6", day_of_week="1", day_of_month="*/2"))
        task("quarterly", task="app.tasks.quarterly",
             crontab=crontab(minute="0", hour="0", day_of_month="1", month_of_year="1-12/3"))
        task("first monday", task="app.tasks.first_monday",
             crontab=crontab(minute="0", hour="0", day_of_week="mon", day_of_month="1-7"))
        cls.last_sync = NOW - timedelta(hours=1, minutes=10, seconds=5)
        task("sync", task="app.tasks.sync",
             interval=IntervalSchedule.objects.create(every=4, period="hours"),
             last_run_at=cls.last_sync, total_run_count=12)
        task("poll", task="app.tasks.poll_fast",
             interval=IntervalSchedule.objects.create(every=30, period="seconds"),
             start_time=NOW + timedelta(days=1))
        task("tiny", task="app.tasks.tiny",
             interval=IntervalSchedule.objects.create(every=1500, period="microseconds"))
        cls.launch_at = (NOW + timedelta(days=3)).replace(second=0)
        task("launch", task="app.tasks.announce", one_off=True,
             clocked=ClockedSchedule.objects.create(clocked_time=cls.launch_at))
        task("sunrise", task="app.tasks.sunrise",
             solar=SolarSchedule.objects.create(event="sunrise", latitude=48.85,
                                                longitude=2.35))
        task("positional", task="app.tasks.report", args=json.dumps(["sales"]),
             crontab=crontab(minute="5"))
        task("backend cleanup", task="celery.backend_cleanup",
             crontab=crontab(minute="0", hour="4"))
        task("switched off", task="app.tasks.off", enabled=False,
             crontab=crontab(minute="0", hour="12"))
        task("bad zone", task="app.tasks.zone", crontab=crontab(minute="1"))
        task("bad minute", task="app.tasks.minute", crontab=crontab(minute="2"))
        with connection.cursor() as cursor:
            # What the models' validators would refuse, written by hand.
            cursor.execute("UPDATE django_celery_beat_crontabschedule SET timezone = 'Mars/Olympus' "
                           "WHERE id = %s", [cls.tasks["bad zone"].crontab_id])
            cursor.execute("UPDATE django_celery_beat_crontabschedule SET minute = '61' "
                           "WHERE id = %s", [cls.tasks["bad minute"].crontab_id])
        cls.dir = tempfile.mkdtemp(prefix="pgjobs-beat.")
        cls.file = os.path.join(cls.dir, "schedules.json")
        cls.written = pgjobs("schedules", "import-celery-beat", "--from", DSN, "--broker", "redis",
                             "--output", cls.file)
        with open(cls.file) as f:
            cls.text = f.read()
        cls.schedules = json.loads(strip_comments(cls.text))["schedules"]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_the_file_holds_every_exactly_mappable_task(self):
        self.assertEqual(8, self.written.returncode, self.written.stderr)
        self.assertEqual(
            ["cleanup-every-night", "late-evening-wrap", "launch", "odd-days-on-mondays",
             "paris-half-past-two", "paris-quarter-hours", "poll", "quarterly", "switched-off",
             "sync", "weekday-report"],
            sorted(self.schedules))
        s = self.schedules
        self.assertEqual({"cron": "0 3 * * *", "tz": "Europe/Paris",
                          "task": "testproj.tasks.cleanup_old_data", "queue": "maintenance",
                          "args": {"days": 30}, "misfire": "skip", "overlap": "skip",
                          "description": "drop old rows"}, s["cleanup-every-night"])
        self.assertEqual("0,15,30,45 0-23 * * *", s["paris-quarter-hours"]["cron"])
        self.assertEqual({"cron": "30 8 * * 1-5", "task": "app.tasks.report", "priority": 6},
                         s["weekday-report"])
        self.assertEqual("0,30 0-2,22,23 * * 0,1,5,6", s["late-evening-wrap"]["cron"])
        self.assertEqual("America/New_York", s["late-evening-wrap"]["tz"])
        self.assertEqual("0 6 */2 * 1", s["odd-days-on-mondays"]["cron"])
        self.assertEqual("0 0 1 1,4,7,10 *", s["quarterly"]["cron"])
        self.assertEqual({"at": iso(self.launch_at), "task": "app.tasks.announce"}, s["launch"])
        self.assertEqual(False, s["switched-off"]["enabled"])
        self.assertEqual({"every": "4h", "task": "app.tasks.sync",
                          "start": iso(self.last_sync + timedelta(hours=4))}, s["sync"])
        self.assertEqual("30s", s["poll"]["every"])
        self.assertIn("// beat name \"cleanup every night\"", self.text)
        self.assertIn("expire_seconds 3600 has no equivalent", self.text)
        self.assertIn("12 runs, the last at", self.text)
        self.assertIn("--apply carries them over", self.text)

    def test_what_cannot_be_mapped_exactly_is_named_with_the_reason(self):
        err = self.written.stderr
        for name, reason in [
                ("first monday", "are both restricted: Celery runs on days that match both"),
                ("sunrise", "solar schedule"),
                ("positional", "keyword arguments only"),
                ("backend cleanup", "history_retention"),
                ("tiny", "not a whole number of seconds"),
                ("bad zone", "\"Mars/Olympus\" is not in this system's time zone database"),
                ("bad minute", "crontab minute \"61\": \"61\" is out of range 0-59")]:
            self.assertRegex(err, 'left out "%s": [^\\n]*%s' % (name, re.escape(reason)))
            self.assertIn('"%s":' % name, self.text)  # listed in the file's header too
        self.assertIn("7 of 18 periodic tasks left out (exit status 8)", err)

    def test_priorities_need_the_broker(self):
        p = pgjobs("schedules", "import-celery-beat", "--from", DSN)
        self.assertEqual(8, p.returncode)
        self.assertRegex(p.stderr, 'left out "weekday report": priority 3 needs --broker')
        self.assertIn('"priority":3', pgjobs("schedules", "import-celery-beat", "--from", DSN,
                                               "--broker", "rabbitmq").stdout)

    def test_the_schedules_fire_when_beat_would(self):
        compared = 0
        for name, entry in self.schedules.items():
            model = self.tasks[{"cleanup-every-night": "cleanup every night",
                                "late-evening-wrap": "late evening wrap",
                                "odd-days-on-mondays": "odd days on mondays",
                                "paris-half-past-two": "paris half past two",
                                "paris-quarter-hours": "paris quarter hours",
                                "switched-off": "switched off",
                                "weekday-report": "weekday report"}.get(name, name)]
            if "cron" in entry:
                for start in [NOW] + DST_STARTS:
                    with self.subTest(name=name, start=iso(start)):
                        self.assertEqual([iso(t) for t in beat_crontab_times(model.crontab, start)],
                                         [iso(t) for t in pgjobs_next(entry, start)])
                        compared += 1
            elif "every" in entry and name == "sync":
                self.assertEqual(
                    [iso(t) for t in beat_interval_times(model.interval, self.last_sync, NOW)],
                    [iso(t) for t in pgjobs_next(entry, NOW)])
                compared += 1
        self.assertEqual(8 * 5 + 1, compared)

    def test_the_comparison_sees_a_difference(self):
        # The same comparison fails for a cron written as is: "*/15" in
        # Europe/Paris runs the repeated hour twice where beat runs it once.
        start = DST_STARTS[1]
        beat = beat_crontab_times(self.tasks["paris quarter hours"].crontab, start, 40)
        naive = pgjobs_next({"cron": "*/15 * * * *", "tz": "Europe/Paris"}, start, 40)
        self.assertNotEqual(beat, naive)
        self.assertEqual(4, len(set(naive) - set(beat)))  # 02:00-02:45 CET
        # And a spring-forward gap: beat runs the skipped 02:30 at 03:00.
        beat = beat_crontab_times(self.tasks["paris half past two"].crontab, DST_STARTS[0], 1)
        self.assertEqual("2026-03-29T01:00:00Z", iso(beat[0]))

    def test_apply_creates_them_and_carries_the_run_count_over(self):
        p = pgjobs("schedules", "import-celery-beat", "--from", DSN, "--broker", "redis",
                   "--apply")
        self.assertEqual(8, p.returncode, p.stderr)
        self.assertIn("create sync", p.stdout)
        self.assertEqual(11, p.stdout.count("create "))
        exported = json.loads(pgjobs("schedules", "export", "--json", check=0).stdout)
        self.assertEqual(self.schedules, exported["schedules"])
        with connection.cursor() as cursor:
            cursor.execute("SELECT run_count, extract(epoch FROM last_run_at) FROM {}.schedules "
                           "WHERE name = 'sync'".format(SCHEMA))
            count, last = cursor.fetchone()
        self.assertEqual(12, count)
        self.assertAlmostEqual(self.last_sync.timestamp(), float(last), places=3)
        # Again: nothing changes, and the counts stay.
        again = pgjobs("schedules", "import-celery-beat", "--from", DSN, "--broker", "redis",
                       "--apply")
        self.assertEqual(8, again.returncode)
        self.assertNotIn("create", again.stdout)
        self.assertNotIn("update", again.stdout)
        # The file applies to the same schedules.
        self.assertNotIn("update", pgjobs("schedules", "apply", self.file, check=0).stdout)
        # Beat ran again before the switch (README, "Switch off beat"): the
        # import then brings its count and last run over, as pgjobs made no
        # job of its own yet. The first import's values used to stick.
        sync = self.tasks["sync"]
        later = self.last_sync + timedelta(hours=4)
        PeriodicTask.objects.filter(pk=sync.pk).update(last_run_at=later, total_run_count=13)
        try:
            pgjobs("schedules", "import-celery-beat", "--from", DSN, "--broker", "redis",
                   "--apply", check=8)
            with connection.cursor() as cursor:
                cursor.execute("SELECT run_count, extract(epoch FROM last_run_at) FROM "
                               "{}.schedules WHERE name = 'sync'".format(SCHEMA))
                count, last = cursor.fetchone()
            self.assertEqual(13, count)
            self.assertAlmostEqual(later.timestamp(), float(last), places=3)
        finally:
            PeriodicTask.objects.filter(pk=sync.pk).update(last_run_at=self.last_sync,
                                                          total_run_count=12)


class CeleryBeatImportErrorsTest(unittest.TestCase):
    def test_an_unreachable_database_names_from_and_the_fix(self):
        p = pgjobs("schedules", "import-celery-beat", "--from",
                   "host=127.0.0.1 port=1 dbname=app connect_timeout=2")
        self.assertEqual(4, p.returncode)
        self.assertIn("pgjobs: --from: cannot connect to PostgreSQL", p.stderr)
        self.assertIn("give --from the libpq DSN of the Django database", p.stderr)

    def test_a_database_without_the_tables_names_them_and_the_fix(self):
        dsn = re.sub(r"search_path=\w+", "search_path=" + SCHEMA, DSN)
        self.assertNotEqual(dsn, DSN)
        p = pgjobs("schedules", "import-celery-beat", "--from", dsn)
        self.assertEqual(2, p.returncode, p.stderr)
        self.assertIn("the database has no table django_celery_beat_periodictask, "
                      "django_celery_beat_crontabschedule", p.stderr)
        self.assertIn("python manage.py migrate django_celery_beat", p.stderr)

    def test_bad_options(self):
        p = pgjobs("schedules", "import-celery-beat", "--from", DSN, "--apply", "--output", "x")
        self.assertEqual(2, p.returncode)
        self.assertIn("not both", p.stderr)
        p = pgjobs("schedules", "import-celery-beat", "--from", DSN, "--broker", "kafka")
        self.assertEqual(2, p.returncode)
        self.assertIn('--broker "kafka" is unknown; give rabbitmq', p.stderr)
        p = pgjobs("schedules", "import-celery-beat")
        self.assertEqual(2, p.returncode)
        self.assertIn("--from", p.stderr)
        p = pgjobs("schedules", "import-celery-beat", "--from", DSN, "--output",
                   "/nonexistent/dir/f.json")
        self.assertEqual(2, p.returncode)
        self.assertIn("cannot write --output /nonexistent/dir/f.json", p.stderr)


if __name__ == "__main__":
    unittest.main()
