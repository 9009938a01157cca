-- A site's organization, found by the site's id alone. An operator's
-- `pantry cloud site enroll-token --site ID` names a site, not its
-- organization, and the service role sees no site until a transaction
-- names the organization: the same problem, and the same answer, as the
-- credential lookups of 0001 (a SECURITY DEFINER function, executable by
-- the service role only, with a pantry_lookup policy letting the migrator
-- read the table under FORCE ROW LEVEL SECURITY).
--
-- Site ids are UUIDv7 made by the cloud, so one id names one site; the
-- primary key is (organization_id, id), so the function returns every
-- match and the caller refuses an ambiguous id. There is no index on id
-- alone: this runs once per command an operator types, over a table of
-- buildings.
CREATE POLICY pantry_lookup ON sites FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION pantry_site_lookup(p_site uuid)
RETURNS TABLE (organization_id uuid, site_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
	SELECT s.organization_id, s.id FROM public.sites s WHERE s.id = p_site
$$;

REVOKE ALL ON FUNCTION pantry_site_lookup(uuid) FROM PUBLIC;
