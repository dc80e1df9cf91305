-- 0850: badges (kept by an HMAC of the value under the pepper, never the
-- value) and device custody (who had which device, from when to when,
-- and how each session ended). Numbered in its own hundred so that
-- branches merged in any order never share a number.
CREATE TABLE badges (
	user_id text COLLATE "C" PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	key     text NOT NULL CHECK (key <> ''),
	set_at  timestamptz NOT NULL,
	set_by  text NOT NULL
);
CREATE UNIQUE INDEX badges_key_key ON badges (key);

-- Custody rows carry ids only, and outlive the purge of a user: kept 90
-- days after their session ended.
CREATE TABLE custody (
	session_id   text COLLATE "C" PRIMARY KEY,
	device_id    text COLLATE "C" NOT NULL,
	user_id      text COLLATE "C" NOT NULL,
	warehouse_id text COLLATE "C" NOT NULL,
	method       text NOT NULL CHECK (method IN ('pin', 'badge')),
	started_at   timestamptz NOT NULL,
	ended_at     timestamptz,
	end_reason   text,
	ended_by     text
);
-- Newest first per warehouse, device and user; open sessions apart.
CREATE INDEX custody_warehouse_idx ON custody (warehouse_id, started_at DESC, session_id DESC);
CREATE INDEX custody_device_idx ON custody (device_id, started_at DESC, session_id DESC);
CREATE INDEX custody_user_idx ON custody (user_id, started_at DESC, session_id DESC);
CREATE INDEX custody_open_idx ON custody (warehouse_id, started_at DESC, session_id DESC) WHERE ended_at IS NULL;
CREATE INDEX custody_purge_idx ON custody ((coalesce(ended_at, started_at)));
