-- Replication with the cloud (DESIGN.md, "Sync protocol").

-- enrollment is the node's identity in the cloud: at most one row, written
-- by Enroll together with the first configuration. The credential is a
-- secret (the cloud keeps only its hash): nothing prints this table.
CREATE TABLE enrollment (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	node_id     TEXT NOT NULL,
	org_id      TEXT NOT NULL,
	site_id     TEXT NOT NULL,
	cloud_url   TEXT NOT NULL,
	credential  TEXT NOT NULL,
	enrolled_at INTEGER NOT NULL
) STRICT;

-- sync_state is what the sync worker keeps about itself, one row: the pull
-- cursor (written in the transaction that applies each page), the cloud's
-- acknowledged outbox seq, and the health `pantry edge status` shows from
-- another process. Times are unix nanoseconds, NULL for never.
CREATE TABLE sync_state (
	id                   INTEGER PRIMARY KEY CHECK (id = 1),
	config_revision      INTEGER NOT NULL DEFAULT 0,
	stock_seq            INTEGER NOT NULL DEFAULT 0,
	acked_seq            INTEGER NOT NULL DEFAULT 0,
	last_push_at         INTEGER,
	last_pull_at         INTEGER,
	last_error_at        INTEGER,
	last_error           TEXT NOT NULL DEFAULT '',
	consecutive_failures INTEGER NOT NULL DEFAULT 0,
	clock_skew_ns        INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO sync_state (id) VALUES (1);

-- Rooms, items and coupons the cloud no longer lists are archived, never
-- deleted: sessions, orders and redemptions reference them. An archived
-- row is out of service (no QR lookup, not on the menu, not redeemable);
-- its history stays intact.
ALTER TABLE spaces ADD COLUMN archived_at INTEGER;
ALTER TABLE items ADD COLUMN archived_at INTEGER;
ALTER TABLE coupons ADD COLUMN archived_at INTEGER;

-- Two switches decide whether an item is offered: the cloud's menu
-- (menu_available, replaced by every configuration snapshot) and the staff
-- at the building (staff_available, the former "available", set by
-- SetAvailability: "sold out"). A snapshot never touches the staff's
-- switch. An item is orderable when both are on and stock is left.
ALTER TABLE items RENAME COLUMN available TO staff_available;
ALTER TABLE items ADD COLUMN menu_available INTEGER NOT NULL DEFAULT 1;

-- A movement pulled from the cloud keeps its place in the site's feed;
-- movements made here have none (and are the only ones in the outbox).
ALTER TABLE stock_movements ADD COLUMN cloud_seq INTEGER;
