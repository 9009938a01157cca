-- items.station: where the pantry prepares an item ("drinks", "food"),
-- '' for none. A staff tablet set to a station shows only its lines
-- (issue 11); the edge gets it with the configuration it pulls.
--
-- The rule is pantry.ValidStation's: '' or 1 to 32 of [a-z0-9-], not
-- 'all' (a tablet's choice to see every station). The store checks it
-- first and answers invalid_input; the CHECK keeps a row written any
-- other way from reaching the edges, which would refuse it.
--
-- No backfill, so no need to lift FORCE ROW LEVEL SECURITY as 0002 did:
-- the constant default fills existing rows without rewriting the table,
-- and PostgreSQL checks the new constraint against them whatever the
-- policies say.
ALTER TABLE items ADD COLUMN station text NOT NULL DEFAULT ''
	CONSTRAINT items_station_check CHECK (station ~ '^[a-z0-9-]{0,32}$' AND station <> 'all');
