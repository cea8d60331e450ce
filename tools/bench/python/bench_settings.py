"""A minimal Django project for the runner/command benchmark: django.setup()
with the usual contrib apps, as a real project's task process pays it."""

SECRET_KEY = "pgjobs-bench-only"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth",
                  "django.contrib.sessions", "django.contrib.messages"]
DATABASES = {}
