-- Run once by the postgres image when its data volume is new (docker-entrypoint-initdb.d):
-- the two roles of the README's "Database roles and signed audit anchors". The gateway migrates
-- as junction_owner and runs as junction_app, which cannot alter or rewrite the audit trail.
-- Development passwords: this server trusts local connections anyway (see docker-compose.yml).
CREATE ROLE junction_owner LOGIN PASSWORD 'junction-owner-dev';
CREATE ROLE junction_app LOGIN PASSWORD 'junction-app-dev';
CREATE ROLE junction_audit_writer NOLOGIN;
GRANT junction_audit_writer TO junction_owner, junction_app;
CREATE DATABASE junction OWNER junction_owner;
\c junction
ALTER SCHEMA public OWNER TO junction_owner;
