"""An application enqueueing pgjobs jobs in its own transactions.

Usage: producer.py DSN SCHEMA COUNT OUT

Runs COUNT transactions with Debian's psycopg2. Each enqueues one "rec" job,
alternately with a plain INSERT and with the SCHEMA.enqueue(...) function,
does some work of its own in the same transaction, then commits
(even-numbered transactions) or rolls back (odd-numbered ones). Writes the ids
of the committed jobs to OUT, one per line, and the ids of the rolled-back
ones prefixed with "-".
"""
import sys

import psycopg2
from psycopg2 import sql


def main() -> None:
    dsn, schema, count, out_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    conn = psycopg2.connect(dsn)
    jobs = sql.Identifier(schema, "jobs")
    enqueue = sql.Identifier(schema, "enqueue")
    with open(out_path, "w", encoding="ascii") as out:
        for i in range(count):
            with conn.cursor() as cur:
                if i % 4 < 2:
                    cur.execute(sql.SQL("INSERT INTO {} (task, args) VALUES ('rec', %s) "
                                        "RETURNING id").format(jobs), ('{"n": %d}' % i,))
                else:
                    cur.execute(sql.SQL("SELECT {}('rec', %s::jsonb)").format(enqueue),
                                ('{"n": %d}' % i,))
                job_id = cur.fetchone()[0]
                cur.execute("SELECT pg_sleep(0)")  # the application's own work
            if i % 2 == 0:
                conn.commit()
                out.write("%d\n" % job_id)
            else:
                conn.rollback()
                out.write("-%d\n" % job_id)
    conn.close()


if __name__ == "__main__":
    main()
