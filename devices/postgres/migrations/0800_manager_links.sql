-- 0800: manager links, the one-time invitation and password-reset links
-- of manager accounts, kept by the SHA-256 of their token. Numbered in a
-- block of its own so that branches merged in any order never share a
-- number.
CREATE TABLE manager_links (
	id         text COLLATE "C" PRIMARY KEY,
	manager_id text COLLATE "C" NOT NULL REFERENCES managers (id) ON DELETE CASCADE,
	kind       text NOT NULL CHECK (kind IN ('invitation', 'reset')),
	created_by text NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	used_at    timestamptz,
	revoked_at timestamptz,
	hash       text NOT NULL CHECK (hash <> '')
);
CREATE UNIQUE INDEX manager_links_hash_key ON manager_links (hash);
CREATE INDEX manager_links_manager_idx ON manager_links (manager_id, id);
