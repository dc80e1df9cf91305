-- 0011: enrollment tokens (zero-touch enrollment), kept by the SHA-256
-- of their token. Numbered apart from the other migrations of the same
-- release so that branches merged in any order never share a number.
CREATE TABLE enrollment_tokens (
	id           text COLLATE "C" PRIMARY KEY,
	warehouse_id text COLLATE "C" NOT NULL REFERENCES warehouses (id),
	name         text NOT NULL,
	max_uses     integer NOT NULL CHECK (max_uses > 0),
	uses         integer NOT NULL CHECK (uses >= 0 AND uses <= max_uses),
	created_by   text NOT NULL,
	created_at   timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL,
	last_used_at timestamptz,
	revoked_at   timestamptz,
	hash         text NOT NULL CHECK (hash <> '')
);
CREATE UNIQUE INDEX enrollment_tokens_hash_key ON enrollment_tokens (hash);
CREATE INDEX enrollment_tokens_warehouse_idx ON enrollment_tokens (warehouse_id, id);
