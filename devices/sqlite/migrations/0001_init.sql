-- Floorgate registry, SQLite. Times are INTEGER unix nanoseconds, UTC.
-- Text columns compare byte-wise (BINARY), so ids sort as devices.NewID
-- makes them: in creation order.

CREATE TABLE warehouses (
    id          TEXT PRIMARY KEY CHECK (id <> ''),
    name        TEXT NOT NULL,
    code        TEXT NOT NULL UNIQUE,
    settings    TEXT NOT NULL DEFAULT '{}', -- JSON devices.SettingsOverride
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE managers (
    id            TEXT PRIMARY KEY CHECK (id <> ''),
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL UNIQUE,
    first_name    TEXT NOT NULL,
    last_name     TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- warehouse_id is NULL for the organisation-wide admin role.
CREATE TABLE manager_roles (
    manager_id   TEXT NOT NULL REFERENCES managers (id) ON DELETE CASCADE,
    role         TEXT NOT NULL,
    warehouse_id TEXT REFERENCES warehouses (id)
);
CREATE UNIQUE INDEX manager_roles_grant ON manager_roles (manager_id, role, coalesce(warehouse_id, ''));
CREATE INDEX manager_roles_warehouse ON manager_roles (warehouse_id, role);

-- The *_fold columns are lower-cased copies for the case-insensitive
-- prefix search (SQLite's own lower() and LIKE fold ASCII only).
CREATE TABLE users (
    id                  TEXT PRIMARY KEY CHECK (id <> ''),
    username            TEXT NOT NULL,
    username_key        TEXT NOT NULL UNIQUE, -- kept by deleted users until purge
    username_fold       TEXT NOT NULL,
    first_name          TEXT NOT NULL,
    first_fold          TEXT NOT NULL,
    last_name           TEXT NOT NULL,
    last_fold           TEXT NOT NULL,
    employee_id         TEXT,                 -- NULL when absent
    employee_fold       TEXT,
    warehouse_id        TEXT NOT NULL REFERENCES warehouses (id),
    language            TEXT NOT NULL,
    pin_hash            TEXT NOT NULL,
    pin_change_required INTEGER NOT NULL,
    status              TEXT NOT NULL,
    deleted_at          INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_employee_id ON users (employee_id) WHERE employee_id IS NOT NULL AND employee_id <> '';
CREATE INDEX users_warehouse ON users (warehouse_id, id);
CREATE INDEX users_deleted ON users (deleted_at) WHERE status = 'deleted';

CREATE TABLE devices (
    id           TEXT PRIMARY KEY CHECK (id <> ''),
    serial       TEXT NOT NULL,
    warehouse_id TEXT NOT NULL REFERENCES warehouses (id),
    label        TEXT NOT NULL,
    model        TEXT NOT NULL,
    os_version   TEXT NOT NULL,
    app_version  TEXT NOT NULL,
    enrolled_by  TEXT NOT NULL, -- manager id; no foreign key, the manager may be deleted
    enrolled_at  INTEGER NOT NULL,
    last_seen_at INTEGER,
    status       TEXT NOT NULL,
    revoked_at   INTEGER,
    token_hash   TEXT NOT NULL UNIQUE
);
CREATE UNIQUE INDEX devices_active_serial ON devices (serial) WHERE status = 'active';
CREATE INDEX devices_warehouse ON devices (warehouse_id, id);

CREATE TABLE service_keys (
    id           TEXT PRIMARY KEY CHECK (id <> ''),
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE manager_tokens (
    hash         TEXT PRIMARY KEY CHECK (hash <> ''),
    manager_id   TEXT NOT NULL REFERENCES managers (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX manager_tokens_manager ON manager_tokens (manager_id);

-- One row: the organisation's devices.Settings as JSON.
CREATE TABLE settings (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    data TEXT NOT NULL
);

CREATE TABLE audit_events (
    id           TEXT PRIMARY KEY CHECK (id <> ''),
    at           INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    warehouse_id TEXT NOT NULL, -- '' when none; no foreign key, audit outlives everything
    device_id    TEXT NOT NULL,
    details      TEXT NOT NULL DEFAULT '{}' -- JSON object of strings
);
CREATE INDEX audit_events_actor ON audit_events (actor, id);
CREATE INDEX audit_events_subject ON audit_events (subject, id);
CREATE INDEX audit_events_action ON audit_events (action, id);
CREATE INDEX audit_events_warehouse ON audit_events (warehouse_id, id);

-- The audit log is append-only: the database itself refuses changes.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
