-- 0800: manager links, the one-time invitation and password-reset links
-- of manager accounts, kept by the SHA-256 of their token. Numbered in a
-- block of its own so that branches merged in any order never share a
-- number.
CREATE TABLE manager_links (
    id         TEXT PRIMARY KEY CHECK (id <> ''),
    manager_id TEXT NOT NULL REFERENCES managers (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('invitation', 'reset')),
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked_at INTEGER,
    hash       TEXT NOT NULL UNIQUE CHECK (hash <> '')
);
CREATE INDEX manager_links_manager ON manager_links (manager_id, id);
