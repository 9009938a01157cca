-- par_levels: how many units of an item a site's pantry should hold once
-- restocked, set by admins and facility managers in the dashboard. The
-- restock list is par − level for every item below its par (the level
-- being the sum of the stock ledger). No row means no par: that is not a
-- par of 0, which says the pantry should keep none.
--
-- A tenant table like the others: organization_id leads the key and every
-- foreign key, and pantry_tenant_rls puts it under row-level security.
-- Par levels are the cloud's alone; they are not part of the edge's
-- configuration, so changing one bumps no catalog revision.
CREATE TABLE par_levels (
	organization_id uuid NOT NULL REFERENCES organizations (id),
	site_id         uuid NOT NULL,
	item_id         uuid NOT NULL,
	-- The stock ledger's bound on one movement (100000), so a restock
	-- list never asks for a delivery the ledger could not record.
	par             bigint NOT NULL CHECK (par BETWEEN 0 AND 100000),
	updated_at      timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (organization_id, site_id, item_id),
	FOREIGN KEY (organization_id, site_id) REFERENCES sites (organization_id, id),
	FOREIGN KEY (organization_id, item_id) REFERENCES items (organization_id, id)
);

SELECT pantry_tenant_rls('par_levels');
