#!/bin/sh
# One-shot (temporalio/admin-tools): creates Temporal's two PostgreSQL
# databases and migrates them to the schema of the admin-tools version.
# Safe to run on every `up`: existing databases are kept and only missing
# schema versions are applied.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${POSTGRES_PASSWORD_FILE:?}"
SQL_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
export SQL_PASSWORD
port="${DB_PORT:-5432}"
# The admin-tools image keeps the schema here; the production-shape tier passes the Go module's copy.
schema="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"

until nc -z -w 5 "$POSTGRES_SEEDS" "$port"; do
  echo "setup-schema: waiting for PostgreSQL at $POSTGRES_SEEDS:$port"
  sleep 2
done

sql() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$port" -u "$POSTGRES_USER" "$@"; }
for db in temporal:temporal temporal_visibility:visibility; do
  name="${db%%:*}" dir="${db##*:}"
  # The database is a global option of temporal-sql-tool, before the command.
  sql --db "$name" create-database || echo "setup-schema: database $name exists"
  sql --db "$name" setup-schema -v 0.0
  sql --db "$name" update-schema -d "$schema/$dir/versioned"
done
echo "setup-schema: done"
