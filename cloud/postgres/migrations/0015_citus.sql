-- What a Citus cluster (issue 14, deploy/scale-out.md) cannot run, changed
-- so that one schema runs there and on a single PostgreSQL alike. The
-- tables are distributed by `pantry cloud migrate --citus` (migrate.go), not
-- here: a migration must also run on a PostgreSQL without the extension.
-- Each change below was seen to fail on Citus 13.2 before it was made.
--
-- 1. Global unique keys. Citus refuses a unique constraint on a
--    distributed table that does not include its distribution column, and
--    five constraints were global on purpose: users.email (a login names a
--    person, not a tenant) and the four credential hashes the pre-tenant
--    lookups search by. Each becomes unique per organization on its table,
--    and the global uniqueness moves to a small directory table mapping the
--    key to its organization: user_emails and credential_hashes. Under
--    Citus they are reference tables (a copy on every node, so a lookup
--    reads them locally), and the lookups then read the credential's row
--    with its organization named, which Citus routes to one shard instead
--    of asking every shard. The store writes a directory row in the
--    transaction that writes the row it names (directory.go): a trigger
--    cannot, because on Citus a trigger on a distributed table fires on
--    the worker holding the shard, not where the reference table's writes
--    are coordinated.
--
--    The directories are tenant tables for row-level security, like the
--    rows they point at: the service role sees and writes only its own
--    organization's keys, so it cannot list every tenant's emails; the
--    lookups read them as the migrator (pantry_lookup policies). Their
--    primary keys still see every organization's rows, as unique indexes
--    always do whatever the policies say, which is what makes an email or
--    a hash unique across tenants. users_email_key keeps its name on its
--    new table, so a duplicate email still reads "a user with this email
--    already exists". No foreign key to organizations: Citus refuses one
--    from a reference table to a distributed table, and rows here are
--    written with the row they name, in the same transaction.
--
-- 2. SQL-language functions over distributed tables fail on Citus ("could
--    not create distributed plan ... parameters in SQL functions"). The
--    SECURITY DEFINER lookups become PL/pgSQL, with the same names,
--    arguments and results.
--
-- 3. Citus refuses a function that is not IMMUTABLE (now()) inside a CASE
--    or COALESCE of an UPDATE ("archived_at = CASE ... COALESCE(archived_at,
--    now()) ..."). pantry_flag_time holds that CASE instead, and now() is
--    its argument, which Citus evaluates once, on the coordinator. It is
--    PL/pgSQL so that no planner inlines the CASE back into the UPDATE
--    (a SQL function would be, and refused again); the UPDATE runs on a
--    worker, so the function must be there too (citus.go distributes it).
--
-- 4. NOTIFY. A statement over a distributed table runs on the worker that
--    holds the shard, pg_notify in its select list included, and a
--    notification sent on a worker never reaches a LISTEN on the
--    coordinator. pantry_notify_orders reads the orders in one query and
--    sends the notifications itself, from the coordinator (a function
--    called in a statement that names no distributed table runs there);
--    the site feed's notifications are sent by a statement over its own
--    arguments (sync_wait.go).

ALTER TABLE users DROP CONSTRAINT users_email_key,
	ADD CONSTRAINT users_org_email_key UNIQUE (organization_id, email);
ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_hash_key,
	ADD CONSTRAINT refresh_tokens_hash_key UNIQUE (organization_id, token_hash);
ALTER TABLE api_keys DROP CONSTRAINT api_keys_hash_key,
	ADD CONSTRAINT api_keys_hash_key UNIQUE (organization_id, key_hash);
ALTER TABLE edge_nodes DROP CONSTRAINT edge_nodes_hash_key,
	ADD CONSTRAINT edge_nodes_hash_key UNIQUE (organization_id, credential_hash);
ALTER TABLE enrollment_tokens DROP CONSTRAINT enrollment_tokens_hash_key,
	ADD CONSTRAINT enrollment_tokens_hash_key UNIQUE (organization_id, token_hash);

-- Emails are stored as users.email is: lower-cased.
CREATE TABLE user_emails (
	email           text NOT NULL CONSTRAINT users_email_key PRIMARY KEY,
	organization_id uuid NOT NULL
);

CREATE TABLE credential_hashes (
	hash            bytea NOT NULL PRIMARY KEY,
	kind            text NOT NULL CHECK (kind IN ('refresh_token', 'api_key', 'edge_node', 'enrollment_token')),
	organization_id uuid NOT NULL
);

-- Backfill, before row-level security is switched on for the new tables.
-- The migrator reads the five source tables through their pantry_lookup
-- policies (0001).
INSERT INTO user_emails (email, organization_id) SELECT email, organization_id FROM users;
INSERT INTO credential_hashes (hash, kind, organization_id)
SELECT token_hash, 'refresh_token', organization_id FROM refresh_tokens
UNION ALL SELECT key_hash, 'api_key', organization_id FROM api_keys
UNION ALL SELECT credential_hash, 'edge_node', organization_id FROM edge_nodes
UNION ALL SELECT token_hash, 'enrollment_token', organization_id FROM enrollment_tokens;

SELECT pantry_tenant_rls('user_emails');
SELECT pantry_tenant_rls('credential_hashes');
CREATE POLICY pantry_lookup ON user_emails FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY pantry_lookup ON credential_hashes FOR SELECT TO CURRENT_USER USING (true);

CREATE OR REPLACE FUNCTION pantry_login_lookup(p_email text)
RETURNS TABLE (organization_id uuid, user_id uuid, password_hash text, role text, disabled boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	org uuid := (SELECT e.organization_id FROM public.user_emails e WHERE e.email = lower(p_email));
BEGIN
	RETURN QUERY SELECT u.organization_id, u.id, u.password_hash, u.role, u.disabled_at IS NOT NULL
		FROM public.users u WHERE u.organization_id = org AND u.email = lower(p_email);
END
$$;

CREATE OR REPLACE FUNCTION pantry_refresh_token_lookup(p_hash bytea)
RETURNS TABLE (organization_id uuid, token_id uuid, user_id uuid, family_id uuid,
	expires_at timestamptz, used_at timestamptz, revoked_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	org uuid := (SELECT c.organization_id FROM public.credential_hashes c WHERE c.hash = p_hash AND c.kind = 'refresh_token');
BEGIN
	RETURN QUERY SELECT t.organization_id, t.id, t.user_id, t.family_id, t.expires_at, t.used_at, t.revoked_at
		FROM public.refresh_tokens t WHERE t.organization_id = org AND t.token_hash = p_hash;
END
$$;

CREATE OR REPLACE FUNCTION pantry_api_key_lookup(p_hash bytea)
RETURNS TABLE (organization_id uuid, key_id uuid, name text, created_by uuid, revoked_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	org uuid := (SELECT c.organization_id FROM public.credential_hashes c WHERE c.hash = p_hash AND c.kind = 'api_key');
BEGIN
	RETURN QUERY SELECT k.organization_id, k.id, k.name, k.created_by, k.revoked_at
		FROM public.api_keys k WHERE k.organization_id = org AND k.key_hash = p_hash;
END
$$;

CREATE OR REPLACE FUNCTION pantry_edge_node_lookup(p_hash bytea)
RETURNS TABLE (organization_id uuid, node_id uuid, site_id uuid, revoked_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	org uuid := (SELECT c.organization_id FROM public.credential_hashes c WHERE c.hash = p_hash AND c.kind = 'edge_node');
BEGIN
	RETURN QUERY SELECT n.organization_id, n.id, n.site_id, n.revoked_at
		FROM public.edge_nodes n WHERE n.organization_id = org AND n.credential_hash = p_hash;
END
$$;

CREATE OR REPLACE FUNCTION pantry_enrollment_token_lookup(p_hash bytea)
RETURNS TABLE (organization_id uuid, token_id uuid, site_id uuid, expires_at timestamptz, used_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	org uuid := (SELECT c.organization_id FROM public.credential_hashes c WHERE c.hash = p_hash AND c.kind = 'enrollment_token');
BEGIN
	RETURN QUERY SELECT e.organization_id, e.id, e.site_id, e.expires_at, e.used_at
		FROM public.enrollment_tokens e WHERE e.organization_id = org AND e.token_hash = p_hash;
END
$$;

-- A site id alone names no shard: under Citus this asks every shard. It
-- runs once per command an operator types (0006).
CREATE OR REPLACE FUNCTION pantry_site_lookup(p_site uuid)
RETURNS TABLE (organization_id uuid, site_id uuid)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
	RETURN QUERY SELECT s.organization_id, s.id FROM public.sites s WHERE s.id = p_site;
END
$$;

-- pantry_flag_time is the new value of a column that records when a flag
-- (archived, disabled, revoked) was set, given p_old, its value now, and
-- p_flag: NULL keeps it, true keeps the first time it was set (p_old, or
-- else p_now), false clears it.
CREATE FUNCTION pantry_flag_time(p_old timestamptz, p_flag boolean, p_now timestamptz) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
	RETURN CASE WHEN p_flag IS NULL THEN p_old WHEN p_flag THEN coalesce(p_old, p_now) END;
END
$$;

-- pantry_notify_orders announces orders p_ids of organization p_org on
-- the order feed's channel (order_feed.go), those whose p_created is true
-- as new, in the order given. Each payload is read from the order's row as
-- the transaction left it, so it says what was stored, and is about 230
-- bytes whatever the edge sent (PostgreSQL's limit is 8000). Identical
-- payloads (the same order, status and time) are sent once per
-- transaction; different orders never are identical. It runs as the
-- caller, under row-level security: the service role, inside its
-- tenant's transaction. Two statements whatever the number of orders: the
-- first reads the payloads (on Citus, from the organization's shard), the
-- second sends them, reading no table, so where it is called. pg_notify
-- is volatile, so PostgreSQL calls it after the sort, in p_ids' order.
CREATE FUNCTION pantry_notify_orders(p_org uuid, p_ids uuid[], p_created boolean[]) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = public, pg_temp AS $$
DECLARE
	notes text[] := ARRAY(
		SELECT json_build_object('org', o.organization_id, 'site', o.site_id, 'order', o.id, 'status', o.status,
			'updated_at', o.updated_at, 'created', t.created)::text
		FROM unnest(p_ids, p_created) WITH ORDINALITY AS t(id, created, n)
		JOIN public.orders o ON o.organization_id = p_org AND o.id = ANY(p_ids) AND o.id = t.id
		ORDER BY t.n);
BEGIN
	PERFORM pg_notify('pantry_orders', n.note) FROM unnest(notes) WITH ORDINALITY AS n(note, i) ORDER BY n.i;
END
$$;
