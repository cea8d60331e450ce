"""Settings of the small Django project the runner tests use.

The database is the tests' throwaway PostgreSQL, given as a libpq DSN in
PGJOBS_TEST_DSN; PGJOBS_TEST_SCHEMA is the pgjobs schema of the test.
"""

import os

from psycopg2.extensions import parse_dsn

import pgjobs

SECRET_KEY = "pgjobs-tests-only"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = ["django.contrib.contenttypes", "django_celery_beat"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

_dsn = parse_dsn(os.environ.get("PGJOBS_TEST_DSN", "dbname=postgres"))
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _dsn.pop("dbname", "postgres"),
        "USER": _dsn.pop("user", ""),
        "PASSWORD": _dsn.pop("password", ""),
        "HOST": _dsn.pop("host", ""),
        "PORT": _dsn.pop("port", ""),
        "OPTIONS": _dsn,
        "CONN_MAX_AGE": None,  # a runner keeps its connection across jobs
    }
}

PGJOBS_SCHEMA = os.environ.get("PGJOBS_TEST_SCHEMA", "pgjobs")
