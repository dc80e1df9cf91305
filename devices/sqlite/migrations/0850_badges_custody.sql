-- 0850: badges (kept by an HMAC of the value under the pepper, never the
-- value) and device custody (who had which device, from when to when,
-- and how each session ended). Numbered in its own hundred so that
-- branches merged in any order never share a number.
CREATE TABLE badges (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    key     TEXT NOT NULL UNIQUE CHECK (key <> ''),
    set_at  INTEGER NOT NULL,
    set_by  TEXT NOT NULL
);

-- Custody rows carry ids only, and outlive the purge of a user: kept 90
-- days after their session ended.
CREATE TABLE custody (
    session_id   TEXT PRIMARY KEY CHECK (session_id <> ''),
    device_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    warehouse_id TEXT NOT NULL,
    method       TEXT NOT NULL CHECK (method IN ('pin', 'badge')),
    started_at   INTEGER NOT NULL,
    ended_at     INTEGER,
    end_reason   TEXT,
    ended_by     TEXT
);
CREATE INDEX custody_warehouse ON custody (warehouse_id, started_at DESC, session_id DESC);
CREATE INDEX custody_device ON custody (device_id, started_at DESC, session_id DESC);
CREATE INDEX custody_user ON custody (user_id, started_at DESC, session_id DESC);
CREATE INDEX custody_open ON custody (warehouse_id, started_at DESC, session_id DESC) WHERE ended_at IS NULL;
CREATE INDEX custody_purge ON custody (coalesce(ended_at, started_at));
