-- 0001: the registry.
--
-- Records point at the warehouses and managers they belong to (foreign
-- keys); actors and enrolling managers are history and are not checked.
--
-- Ids are text in the "C" collation so that they sort byte by byte: ids
-- begin with their creation time (devices.NewID), and keyset pagination
-- lists by id. Every time is timestamptz, written in UTC with microsecond
-- precision. Optional text fields that must be unique when present
-- (employee_id, token_hash, service key hash) are NULL when absent, so
-- that partial or plain unique indexes ignore them.

CREATE TABLE settings (
	id         smallint PRIMARY KEY CHECK (id = 1),
	data       jsonb,
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE warehouses (
	id         text COLLATE "C" PRIMARY KEY,
	name       text NOT NULL,
	code       text NOT NULL,
	settings   jsonb NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX warehouses_code_key ON warehouses (upper(code));

CREATE TABLE managers (
	id            text COLLATE "C" PRIMARY KEY,
	email         text NOT NULL,
	email_key     text NOT NULL,
	first_name    text NOT NULL,
	last_name     text NOT NULL,
	password_hash text NOT NULL,
	status        text NOT NULL,
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX managers_email_key_key ON managers (email_key);

-- warehouse_id is NULL for the organisation-wide admin role.
CREATE TABLE manager_roles (
	manager_id   text COLLATE "C" NOT NULL REFERENCES managers (id) ON DELETE CASCADE,
	role         text NOT NULL,
	warehouse_id text COLLATE "C" REFERENCES warehouses (id)
);
CREATE UNIQUE INDEX manager_roles_key ON manager_roles (manager_id, role, coalesce(warehouse_id, ''));
CREATE INDEX manager_roles_warehouse_idx ON manager_roles (warehouse_id, role);

CREATE TABLE manager_tokens (
	hash         text PRIMARY KEY,
	manager_id   text COLLATE "C" NOT NULL REFERENCES managers (id) ON DELETE CASCADE,
	created_at   timestamptz NOT NULL,
	last_used_at timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL
);
CREATE INDEX manager_tokens_manager_idx ON manager_tokens (manager_id);

CREATE TABLE users (
	id                  text COLLATE "C" PRIMARY KEY,
	username            text NOT NULL,
	username_key        text NOT NULL,
	first_name          text NOT NULL,
	last_name           text NOT NULL,
	employee_id         text,
	warehouse_id        text COLLATE "C" NOT NULL REFERENCES warehouses (id),
	language            text NOT NULL,
	pin_hash            text NOT NULL,
	pin_change_required boolean NOT NULL,
	status              text NOT NULL,
	deleted_at          timestamptz,
	created_at          timestamptz NOT NULL,
	updated_at          timestamptz NOT NULL
);
-- A soft-deleted user keeps its username reserved until it is purged.
CREATE UNIQUE INDEX users_username_key_key ON users (username_key);
CREATE UNIQUE INDEX users_employee_id_key ON users (employee_id) WHERE employee_id IS NOT NULL;
CREATE INDEX users_warehouse_idx ON users (warehouse_id, id);
CREATE INDEX users_updated_idx ON users (updated_at);
CREATE INDEX users_purge_idx ON users (deleted_at) WHERE status = 'deleted';

CREATE TABLE devices (
	id           text COLLATE "C" PRIMARY KEY,
	serial       text NOT NULL,
	warehouse_id text COLLATE "C" NOT NULL REFERENCES warehouses (id),
	label        text NOT NULL,
	model        text NOT NULL,
	os_version   text NOT NULL,
	app_version  text NOT NULL,
	enrolled_by  text NOT NULL,
	enrolled_at  timestamptz NOT NULL,
	last_seen_at timestamptz,
	status       text NOT NULL,
	revoked_at   timestamptz,
	token_hash   text
);
-- One active enrollment per serial; revoked ones stay as history.
CREATE UNIQUE INDEX devices_active_serial_key ON devices (serial) WHERE status = 'active';
CREATE UNIQUE INDEX devices_token_hash_key ON devices (token_hash);
CREATE INDEX devices_warehouse_idx ON devices (warehouse_id, id);

CREATE TABLE service_keys (
	id           text COLLATE "C" PRIMARY KEY,
	name         text NOT NULL,
	scope        text NOT NULL,
	hash         text,
	created_by   text NOT NULL,
	created_at   timestamptz NOT NULL,
	last_used_at timestamptz,
	revoked_at   timestamptz
);
CREATE UNIQUE INDEX service_keys_hash_key ON service_keys (hash);

CREATE TABLE audit_events (
	id           text COLLATE "C" PRIMARY KEY,
	at           timestamptz NOT NULL,
	actor        text NOT NULL,
	action       text COLLATE "C" NOT NULL,
	subject      text NOT NULL,
	warehouse_id text COLLATE "C" NOT NULL,
	device_id    text NOT NULL,
	details      jsonb
);
CREATE INDEX audit_events_subject_idx ON audit_events (subject, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, id);
CREATE INDEX audit_events_warehouse_idx ON audit_events (warehouse_id, id);
CREATE INDEX audit_events_at_idx ON audit_events (at);

-- The audit log is append-only: the database itself refuses to change or
-- remove a row, whoever asks.
CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
		USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_events_no_update_delete
	BEFORE UPDATE OR DELETE ON audit_events
	FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE TRIGGER audit_events_no_truncate
	BEFORE TRUNCATE ON audit_events
	FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
