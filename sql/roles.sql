-- Least-privilege roles (migration 0009_least_privilege).

-- name: grant_roles
-- Gives <schema>_producer, <schema>_worker and <schema>_admin their rights
-- on the schema's current tables and functions, creating missing roles when
-- $1 is true (needs CREATEROLE) and skipping them otherwise; returns the
-- roles granted, comma-separated. Idempotent: `pgjobs migrate` runs it after
-- every upgrade so that the roles follow new tables.
SELECT array_to_string(@schema@.grant_roles($1::boolean), ',');
