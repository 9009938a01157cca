-- Restoring a backup (restore.go). The outbox's seqs are numbered by the
-- cloud's watermark, which moved on while the backup sat on a shelf: a
-- restored node must learn it before it pushes, and number what it wrote
-- meanwhile after it.
--
-- restored_head is the outbox head (the newest seq, seq_floor included)
-- of the backup that was restored, while the node has not yet learned the
-- cloud's watermark since; NULL when no restore is pending. The pusher
-- pushes nothing while it is set.
--
-- seq_floor is the lowest seq the next outbox event may take, minus one:
-- after a restore whose backup ends at H while the cloud has applied up
-- to W > H, the next event must be W+1 even if nothing was written since
-- the restore. 0 on a node never restored.
--
-- restored_at and restored_from say when, and from which file, the data
-- directory was last restored, for `pantry edge status`.
ALTER TABLE sync_state ADD COLUMN restored_head INTEGER CHECK (restored_head >= 0);
ALTER TABLE sync_state ADD COLUMN seq_floor INTEGER NOT NULL DEFAULT 0 CHECK (seq_floor >= 0);
ALTER TABLE sync_state ADD COLUMN restored_at INTEGER;
ALTER TABLE sync_state ADD COLUMN restored_from TEXT NOT NULL DEFAULT '';
