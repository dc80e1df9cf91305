-- 0011: enrollment tokens (zero-touch enrollment), kept by the SHA-256
-- of their token. Numbered apart from the other migrations of the same
-- release so that branches merged in any order never share a number.
CREATE TABLE enrollment_tokens (
    id           TEXT PRIMARY KEY CHECK (id <> ''),
    warehouse_id TEXT NOT NULL REFERENCES warehouses (id),
    name         TEXT NOT NULL,
    max_uses     INTEGER NOT NULL CHECK (max_uses > 0),
    uses         INTEGER NOT NULL CHECK (uses >= 0 AND uses <= max_uses),
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    hash         TEXT NOT NULL UNIQUE CHECK (hash <> '')
);
CREATE INDEX enrollment_tokens_warehouse ON enrollment_tokens (warehouse_id, id);
