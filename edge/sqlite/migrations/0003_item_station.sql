-- Stations (issue 11): where the pantry prepares an item ("drinks",
-- "food"), '' for none. Staff tablets set to a station see only its lines.
--
-- items.station is the cloud's (every configuration snapshot replaces it;
-- the demo seed sets its own). The CHECK is pantry.ValidStation's rule:
-- '' or 1 to 32 of [a-z0-9-], not 'all'. ApplyPull refuses a snapshot
-- that breaks it with a clear error before the CHECK would.
ALTER TABLE items ADD COLUMN station TEXT NOT NULL DEFAULT ''
	CHECK (length(station) <= 32 AND station NOT GLOB '*[^a-z0-9-]*' AND station != 'all');

-- An order line keeps the item's station, tags and allergens as they were
-- when the order was placed (JSON arrays of strings, as items keep tags
-- and allergens): the ticket shows what was ordered, whatever the
-- catalog says later.
ALTER TABLE order_lines ADD COLUMN station TEXT NOT NULL DEFAULT '';
ALTER TABLE order_lines ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE order_lines ADD COLUMN allergens TEXT NOT NULL DEFAULT '[]';

-- Lines placed before this migration get the item's labels as they are
-- now: the nearest thing to a snapshot there is, and an open ticket
-- without its allergens is worse than one with today's. (Their station
-- stays '': no item has one until the next snapshot or seed.)
UPDATE order_lines SET
	tags = (SELECT i.tags FROM items i WHERE i.id = order_lines.item_id),
	allergens = (SELECT i.allergens FROM items i WHERE i.id = order_lines.item_id);
