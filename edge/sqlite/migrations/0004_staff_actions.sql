-- staff_actions remembers the answer to each tablet action (advance,
-- cancel, recall, sold out/back) under the id the tablet made for it, so
-- a double tap or a retry after a lost answer gets the first answer again
-- instead of acting twice (staff_action.go). A row is written in the
-- transaction of the change it answers, or of the refusal it records, and
-- is pruned a day later, as new actions arrive.
--
-- tablet_id has no foreign key: a configuration snapshot from the cloud
-- may remove a tablet, and its recent answers must not stand in the way.
-- outcome is JSON: the order or item as the action left it, or the
-- refusal's code and message.
CREATE TABLE staff_actions (
	id           TEXT PRIMARY KEY,
	tablet_id    TEXT NOT NULL,
	kind         TEXT NOT NULL,
	target_id    TEXT NOT NULL,
	request_hash BLOB NOT NULL,
	outcome      TEXT NOT NULL,
	created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX staff_actions_created ON staff_actions (created_at);
