-- The owner/application role split (docs/deployment.md, docs/audit.md), run once by a superuser:
--   sudo -u postgres psql -f roles.sql
-- then give each role its password in psql with `\password handover_owner` and `\password handover_app`:
-- psql sends it hashed, so it is in no process argument, no shell history and no statement log.
-- handover_owner owns the database and its tables and runs `handover migrate` (HANDOVER_DATABASE_OWNER_URL,
-- given only to the operator's shell, never to the units). handover_app is what the server runs as
-- (HANDOVER_DATABASE_URL): after each migrate it may SELECT, INSERT, UPDATE and DELETE every table but
-- audit_event, which it may only INSERT into and SELECT from (src/handover/audit/roles.py), and it can neither
-- drop nor disable the trail's append-only triggers.
CREATE ROLE handover_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE ROLE handover_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE DATABASE handover OWNER handover_owner ENCODING 'UTF8' LOCALE 'C.UTF-8' TEMPLATE template0;
\connect handover
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO handover_owner;
