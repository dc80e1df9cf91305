-- 0650: a hash chain over the audit log (devices.ChainHash). Rows are
-- appended as before, outside the chain (seq NULL); a sealer
-- (devices.Registry.RunAuditSealer) then gives each, oldest id first,
-- the next place in one sequence and the SHA-256 of the previous row's
-- hash and its own canonical bytes, holding the chain's head (the one
-- row of audit_chain) locked, so that sealers of several instances make
-- one chain and the login path never waits for it. Rows from before
-- this migration are sealed by the first run. Numbered apart from other
-- branches' migrations.
ALTER TABLE audit_events ADD COLUMN seq bigint, ADD COLUMN hash bytea;
CREATE UNIQUE INDEX audit_events_seq_key ON audit_events (seq);
CREATE INDEX audit_events_unsealed_idx ON audit_events (id) WHERE seq IS NULL;

CREATE TABLE audit_chain (
	id   integer PRIMARY KEY CHECK (id = 1),
	seq  bigint NOT NULL CHECK (seq >= 0),
	hash bytea NOT NULL
);
INSERT INTO audit_chain (id, seq, hash) VALUES (1, 0, '\x');

-- The one change the append-only rule allows: sealing a row, once
-- (seq and hash from NULL to a value, nothing else changed).
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND OLD.hash IS NULL
		AND NEW.seq IS NOT NULL AND NEW.hash IS NOT NULL
		AND (NEW.id, NEW.at, NEW.actor, NEW.action, NEW.subject, NEW.warehouse_id, NEW.device_id, NEW.details)
			IS NOT DISTINCT FROM
			(OLD.id, OLD.at, OLD.actor, OLD.action, OLD.subject, OLD.warehouse_id, OLD.device_id, OLD.details)
	THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
		USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- The head's row cannot be removed (a sealer would start a new chain).
CREATE FUNCTION audit_chain_keep() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_chain keeps its row: % refused', TG_OP
		USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_chain_no_delete
	BEFORE DELETE ON audit_chain
	FOR EACH ROW EXECUTE FUNCTION audit_chain_keep();
CREATE TRIGGER audit_chain_no_truncate
	BEFORE TRUNCATE ON audit_chain
	FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_keep();
