-- Organizations get a slug: a short name a person can type ("acme") where
-- an organization must be named before anyone has signed in, on the
-- dashboard's single sign-on form and in its link (/login/sso?org=acme).
-- An id still works there too.
--
-- The slug is unique across organizations, so it lives in a directory
-- table like the emails of 0015 (user_emails): under Citus organizations
-- is distributed by id, where a unique constraint on another column is
-- refused, and organization_slugs is a reference table (citus.go). It is
-- a tenant table for row-level security: the service role sees only its
-- own organization's slug; the sign-in finds an organization by slug
-- through pantry_organization_slug_lookup, as the migrator. One slug per
-- organization. The store writes the row in the transaction that creates
-- the organization (organization.go), which checks the slug's form: 2 to
-- 40 lower-case letters, digits and inner hyphens, never an id's shape.
CREATE TABLE organization_slugs (
	slug            text NOT NULL CONSTRAINT organization_slugs_key PRIMARY KEY
		CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$'),
	organization_id uuid NOT NULL CONSTRAINT organization_slugs_org_key UNIQUE
);

SELECT pantry_tenant_rls('organization_slugs');
CREATE POLICY pantry_lookup ON organization_slugs FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION pantry_organization_slug_lookup(p_slug text)
RETURNS TABLE (organization_id uuid)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
	RETURN QUERY SELECT s.organization_id FROM public.organization_slugs s WHERE s.slug = lower(p_slug);
END
$$;

REVOKE ALL ON FUNCTION pantry_organization_slug_lookup(text) FROM PUBLIC;

-- Backfill: every organization gets the slug its name gives (lower-case
-- ASCII letters and digits, anything else a hyphen), oldest first; a
-- slug already taken gets the end of the organization's id (its random
-- bits) after it. The migrator reads organizations through a
-- pantry_lookup policy, as it reads the credential tables (0001), and
-- writes each slug as its organization, as the store does. Last: on a
-- Citus cluster already distributed, reading organizations runs on every
-- shard at once, and after that no function may be created in the same
-- transaction.
CREATE POLICY pantry_lookup ON organizations FOR SELECT TO CURRENT_USER USING (true);
DO $$
DECLARE
	o    record;
	base text;
	s    text;
BEGIN
	FOR o IN SELECT id, name FROM public.organizations ORDER BY created_at, id LOOP
		base := rtrim(left(ltrim(regexp_replace(lower(o.name), '[^a-z0-9]+', '-', 'g'), '-'), 40), '-');
		IF length(base) < 2 THEN
			base := 'org';
		END IF;
		s := base;
		IF EXISTS (SELECT 1 FROM public.organization_slugs WHERE slug = s) THEN
			s := rtrim(left(base, 31), '-') || '-' || right(replace(o.id::text, '-', ''), 8);
		END IF;
		PERFORM set_config('app.org_id', o.id::text, true);
		INSERT INTO public.organization_slugs (slug, organization_id) VALUES (s, o.id);
	END LOOP;
END
$$;
SELECT set_config('app.org_id', '', true);
