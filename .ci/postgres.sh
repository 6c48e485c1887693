#!/usr/bin/env bash
# Install (Debian packages) and start a local PostgreSQL on 127.0.0.1:5432 for the database
# tests, with a superuser `mintbot` (password `mintbot`) that may create test databases.
# Prints the base URL to use as MINTBOT_TEST_POSTGRES_URL.
set -euo pipefail
if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
fi
version="$(ls /usr/lib/postgresql | sort -n | tail -1)"
if ! pg_lsclusters -h | grep -q "^$version main"; then
  pg_createcluster "$version" main >/dev/null
fi
pg_ctlcluster "$version" main start >/dev/null 2>&1 || true  # already running is fine
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 0.2
done
# The postgres OS user reaches the server over its Unix socket (peer authentication).
su postgres -c "psql -q" <<'SQL' >/dev/null
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mintbot') THEN
    CREATE ROLE mintbot LOGIN SUPERUSER PASSWORD 'mintbot';
  END IF;
END $$;
-- A server for tests: nothing in it has to survive a crash of the machine, so no commit,
-- CREATE DATABASE or DROP DATABASE (which forces a checkpoint) waits for the disk. These
-- take effect on reload, without a restart.
ALTER SYSTEM SET fsync = off;
ALTER SYSTEM SET synchronous_commit = off;
ALTER SYSTEM SET full_page_writes = off;
-- Several bot processes per test (the chaos test runs four, each with its pool and its
-- claims' connections) beside test workers: more than the default 100 connections. This one
-- takes a restart.
ALTER SYSTEM SET max_connections = 400;
SELECT pg_reload_conf();
SQL
if [ "$(su postgres -c "psql -qtAc 'SHOW max_connections'")" != "400" ]; then
  pg_ctlcluster "$version" main restart >/dev/null
  for _ in $(seq 1 50); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 0.2
  done
fi
su postgres -c "psql -q -tc \"SELECT 1 FROM pg_database WHERE datname = 'mintbot'\"" | grep -q 1 \
  || su postgres -c "createdb -O mintbot mintbot"
echo "postgresql+asyncpg://mintbot:mintbot@127.0.0.1:5432/mintbot"
