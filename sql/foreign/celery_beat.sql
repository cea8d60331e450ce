-- `pgjobs schedules import-celery-beat` (src/cli/cmd_schedules_import.cc):
-- django-celery-beat's tables, read from the application's database given by
-- --from. These statements are never prepared on pgjobs connections (see
-- SqlCatalog::Foreign): the tables exist only where django-celery-beat was
-- migrated. Instants are whole microseconds since the Unix epoch.

-- name: celery_beat_missing_tables
-- The django-celery-beat tables the import reads that this database does not
-- have (on the search_path), in order.
SELECT t.name
FROM unnest(ARRAY['django_celery_beat_periodictask', 'django_celery_beat_crontabschedule',
                  'django_celery_beat_intervalschedule', 'django_celery_beat_clockedschedule',
                  'django_celery_beat_solarschedule']) WITH ORDINALITY AS t(name, n)
WHERE to_regclass(t.name) IS NULL
ORDER BY t.n;

-- name: celery_beat_periodic_tasks
-- Every periodic task with its schedule, by name. A task's schedule is the
-- first of interval, crontab, solar, clocked that is set, as in
-- django-celery-beat's PeriodicTask.schedule.
SELECT t.name, t.task, t.args, t.kwargs, t.queue, t.exchange, t.routing_key, t.headers,
       t.priority,
       (extract(epoch FROM t.expires) * 1000000)::bigint AS expires_us,
       t.expire_seconds, t.one_off,
       (extract(epoch FROM t.start_time) * 1000000)::bigint AS start_us,
       t.enabled,
       (extract(epoch FROM t.last_run_at) * 1000000)::bigint AS last_run_us,
       t.total_run_count, t.description,
       CASE WHEN t.interval_id IS NOT NULL THEN 'interval'
            WHEN t.crontab_id IS NOT NULL THEN 'crontab'
            WHEN t.solar_id IS NOT NULL THEN 'solar'
            WHEN t.clocked_id IS NOT NULL THEN 'clocked'
       END AS kind,
       c.minute, c.hour, c.day_of_week, c.day_of_month, c.month_of_year, c.timezone::text,
       i.every, i.period,
       (extract(epoch FROM k.clocked_time) * 1000000)::bigint AS clocked_us,
       s.event, s.latitude::text, s.longitude::text
FROM django_celery_beat_periodictask t
LEFT JOIN django_celery_beat_crontabschedule c ON c.id = t.crontab_id
LEFT JOIN django_celery_beat_intervalschedule i ON i.id = t.interval_id
LEFT JOIN django_celery_beat_clockedschedule k ON k.id = t.clocked_id
LEFT JOIN django_celery_beat_solarschedule s ON s.id = t.solar_id
ORDER BY t.name;
