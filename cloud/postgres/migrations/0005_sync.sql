-- Replication between edge nodes and the cloud (syncproto version 1).

-- The pull feed is two counters per site instead of a change_feed table.
-- A global identity seq is assigned when a row is inserted, not when its
-- transaction commits: a reader at seq 12 can miss seq 11 committing a
-- moment later, forever. Both counters here are bumped under the site's
-- row lock, in the transaction of the change, so they grow in commit
-- order:
--   * sites.catalog_revision (0001) names the configuration an edge runs
--     on: rooms, catalog, menu and prices, coupons, cost centers, tablets.
--     An edge behind it pulls a whole snapshot (small, idempotent, and it
--     heals whatever an edge might have missed).
--   * sites.stock_seq numbers the stock movements made in the cloud
--     (stock_movements.feed_seq): a ledger is pulled by cursor, never
--     replaced.
-- change_feed was never written; dropping it loses nothing.
DROP TABLE change_feed;

ALTER TABLE sites ADD COLUMN stock_seq bigint NOT NULL DEFAULT 0 CHECK (stock_seq >= 0);
ALTER TABLE stock_movements ADD COLUMN feed_seq bigint CHECK (feed_seq > 0);
CREATE UNIQUE INDEX stock_movements_feed ON stock_movements (organization_id, site_id, feed_seq)
	WHERE feed_seq IS NOT NULL;

-- Number the cloud's movements already stored (see 0002 for why FORCE is
-- lifted inside this transaction).
ALTER TABLE sites NO FORCE ROW LEVEL SECURITY;
ALTER TABLE stock_movements NO FORCE ROW LEVEL SECURITY;
UPDATE stock_movements m SET feed_seq = n.seq
FROM (SELECT organization_id, id, row_number() OVER (PARTITION BY organization_id, site_id ORDER BY created_at, id) AS seq
	FROM stock_movements WHERE origin = 'cloud') n
WHERE m.organization_id = n.organization_id AND m.id = n.id;
UPDATE sites s SET stock_seq = n.seq
FROM (SELECT organization_id, site_id, max(feed_seq) AS seq FROM stock_movements WHERE feed_seq IS NOT NULL GROUP BY 1, 2) n
WHERE s.organization_id = n.organization_id AND s.id = n.site_id;
ALTER TABLE sites FORCE ROW LEVEL SECURITY;
ALTER TABLE stock_movements FORCE ROW LEVEL SECURITY;
-- Every cloud movement is in the feed, and only those.
ALTER TABLE stock_movements ADD CONSTRAINT stock_movements_feed_origin
	CHECK ((origin = 'cloud') = (feed_seq IS NOT NULL));

-- What admins see per node (GET /api/v1/nodes): last contact, watermark
-- and lag, software version, clock skew, the configuration it runs.
ALTER TABLE edge_nodes
	ADD COLUMN last_push_at    timestamptz,
	ADD COLUMN last_pull_at    timestamptz,
	-- The newest outbox seq the edge reported: lag = edge_last_seq - applied_seq.
	ADD COLUMN edge_last_seq   bigint NOT NULL DEFAULT 0 CHECK (edge_last_seq >= 0),
	-- The configuration revision the edge last pulled.
	ADD COLUMN config_revision bigint NOT NULL DEFAULT 0 CHECK (config_revision >= 0),
	-- The edge's clock minus the cloud's at the last contact.
	ADD COLUMN clock_skew_ms   bigint,
	ADD COLUMN revoked_reason  text NOT NULL DEFAULT '';
-- Re-enrolling a site revokes its other nodes: find them by site.
CREATE INDEX edge_nodes_site ON edge_nodes (organization_id, site_id) WHERE revoked_at IS NULL;

ALTER TABLE enrollment_tokens
	ADD COLUMN node_id    uuid, -- the node the token enrolled
	ADD COLUMN created_by text NOT NULL DEFAULT '';

-- A dead letter keeps its event whole: the envelope in columns and the
-- payload as the bytes the edge sent. jsonb would refuse some payloads an
-- edge can send (\u0000) and so block the queue it exists to unblock.
ALTER TABLE dead_letters
	ALTER COLUMN payload TYPE bytea USING convert_to(payload::text, 'UTF8'),
	ADD COLUMN event_id         uuid,
	ADD COLUMN entity_id        text NOT NULL DEFAULT '',
	ADD COLUMN schema           integer NOT NULL DEFAULT 1,
	ADD COLUMN event_created_at timestamptz,
	-- The latest re-apply attempt's failure, while it still fails.
	ADD COLUMN last_error       text NOT NULL DEFAULT '';
CREATE INDEX dead_letters_open ON dead_letters (organization_id, created_at, id) WHERE reapplied_at IS NULL;

-- Staff at a building mark items sold out (item.availability_changed).
-- The menu stays the cloud's; the edge's word is kept beside it for the
-- dashboard.
ALTER TABLE site_menu_items
	ADD COLUMN edge_available    boolean,
	ADD COLUMN edge_available_at timestamptz;
