#!/bin/sh
# Entrypoint of the compose test's Postgres image (Debian's postgresql, see postgres.Containerfile):
# the part of the official postgres image's entrypoint that deploy/docker-compose.yml relies on.
# On an empty PGDATA it creates the cluster with POSTGRES_USER as superuser (password
# POSTGRES_PASSWORD, scram over TCP) and the database POSTGRES_DB; then it runs postgres as PID 1.
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 0700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	chown postgres "$pwfile"
	as_pg "$bin/initdb" -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
		--auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
	rm -f "$pwfile"
	echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
	# Like the official image: the database is created on the socket only, so pg_isready over
	# TCP (the compose health check) answers only once the real server listens.
	as_pg "$bin/pg_ctl" -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
	if [ "$POSTGRES_DB" != postgres ]; then
		as_pg "$bin/createdb" -h /run/postgresql -U "$POSTGRES_USER" "$POSTGRES_DB"
	fi
	as_pg "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
	echo "postgres-entrypoint: cluster initialised in $PGDATA"
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$PGDATA" \
	-c listen_addresses='*' -c unix_socket_directories=/run/postgresql "$@"
