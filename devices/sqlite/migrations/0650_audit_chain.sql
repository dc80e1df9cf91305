-- 0650: a hash chain over the audit log (devices.ChainHash). Rows are
-- appended as before, outside the chain (seq NULL); a sealer
-- (devices.Registry.RunAuditSealer) then gives each, oldest id first,
-- the next place in one sequence and the SHA-256 of the previous row's
-- hash and its own canonical bytes, and moves the chain's head (the one
-- row of audit_chain). The one writer connection serialises sealers.
-- Rows from before this migration are sealed by the first run.
-- Numbered apart from other branches' migrations.
ALTER TABLE audit_events ADD COLUMN seq INTEGER;
ALTER TABLE audit_events ADD COLUMN hash BLOB;
CREATE UNIQUE INDEX audit_events_seq ON audit_events (seq);
CREATE INDEX audit_events_unsealed ON audit_events (id) WHERE seq IS NULL;

CREATE TABLE audit_chain (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL CHECK (seq >= 0),
    hash BLOB NOT NULL
);
INSERT INTO audit_chain (id, seq, hash) VALUES (1, 0, X'');

-- The one change the append-only rule allows: sealing a row, once (seq
-- and hash from NULL to a value, nothing else changed).
DROP TRIGGER audit_events_no_update;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN NOT (OLD.seq IS NULL AND OLD.hash IS NULL AND NEW.seq IS NOT NULL AND NEW.hash IS NOT NULL
    AND NEW.id IS OLD.id AND NEW.at IS OLD.at AND NEW.actor IS OLD.actor AND NEW.action IS OLD.action
    AND NEW.subject IS OLD.subject AND NEW.warehouse_id IS OLD.warehouse_id
    AND NEW.device_id IS OLD.device_id AND NEW.details IS OLD.details)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
BEGIN
    SELECT RAISE(ABORT, 'audit_chain keeps its row');
END;
