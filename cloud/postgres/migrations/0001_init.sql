-- The cloud's schema. Append-only: never edit this file once it has shipped;
-- change the schema with a new numbered file.
--
-- Conventions (DESIGN.md, "Cloud tenancy"):
--   * Every tenant table has organization_id uuid NOT NULL, its primary key
--     starts with organization_id, and every foreign key between tenant
--     tables includes it. This is the shape Citus needs to shard by
--     organization_id, and it also means a row can only ever reference rows
--     of its own organization: foreign-key checks bypass row-level security,
--     so a key of (site_id) alone would let one tenant point at another's
--     site.
--   * Row-level security on every tenant table (pantry_tenant_rls, at the
--     end): rows are visible and writable only while app.org_id, a
--     per-transaction setting, names their organization.
--   * Ids are UUIDv7 made where the record is born (edge or cloud); money is
--     bigint minor units with an ISO 4217 currency; times are timestamptz.
--   * Global uniqueness (users.email, the credential hashes) is kept where
--     pre-tenant lookups need it. Under Citus these become reference tables
--     mapping the key to its organization.
--   * Rows that edge history refers to (sites, spaces, items, coupons, cost
--     centers) are archived, not deleted: an offline edge may still be
--     taking orders against them.
-- The service role's privileges are granted by the migration runner (its
-- name is configurable), not here.

CREATE TABLE organizations (
	id         uuid PRIMARY KEY,
	name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sites (
	organization_id  uuid NOT NULL REFERENCES organizations (id),
	id               uuid NOT NULL,
	name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	timezone         text NOT NULL,
	currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
	-- Bumped with every catalog change the site's edge must pull; orders
	-- record the revision they were priced with (sync invariant 7).
	catalog_revision bigint NOT NULL DEFAULT 0,
	created_at       timestamptz NOT NULL DEFAULT now(),
	archived_at      timestamptz,
	PRIMARY KEY (organization_id, id)
);

CREATE TABLE spaces (
	organization_id uuid NOT NULL,
	id              uuid NOT NULL,
	site_id         uuid NOT NULL,
	name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	floor           text NOT NULL DEFAULT '',
	-- The unguessable code in the room's QR; rotating it is an UPDATE.
	code            text NOT NULL CHECK (length(code) BETWEEN 16 AND 64),
	created_at      timestamptz NOT NULL DEFAULT now(),
	archived_at     timestamptz,
	PRIMARY KEY (organization_id, id),
	CONSTRAINT spaces_code_key UNIQUE (organization_id, code),
	-- The target of (site_id, space_id) foreign keys: a session or order
	-- can only name a room of its own site.
	CONSTRAINT spaces_site_key UNIQUE (organization_id, site_id, id),
	FOREIGN KEY (organization_id, site_id) REFERENCES sites (organization_id, id)
);

CREATE TABLE items (
	organization_id     uuid NOT NULL REFERENCES organizations (id),
	id                  uuid NOT NULL,
	name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	description         text NOT NULL DEFAULT '',
	price_amount        bigint NOT NULL CHECK (price_amount BETWEEN 0 AND 10000000000),
	currency            text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
	tags                text[] NOT NULL DEFAULT '{}',
	allergens           text[] NOT NULL DEFAULT '{}',
	low_stock_threshold bigint NOT NULL DEFAULT 0 CHECK (low_stock_threshold >= 0),
	image_url           text NOT NULL DEFAULT '',
	created_at          timestamptz NOT NULL DEFAULT now(),
	updated_at          timestamptz NOT NULL DEFAULT now(),
	archived_at         timestamptz,
	PRIMARY KEY (organization_id, id)
);

-- A site's menu: which items it sells, and at what price when it differs
-- from the item's (price_amount NULL: the item's own price).
CREATE TABLE site_menu_items (
	organization_id uuid NOT NULL,
	site_id         uuid NOT NULL,
	item_id         uuid NOT NULL,
	available       boolean NOT NULL DEFAULT true,
	price_amount    bigint CHECK (price_amount BETWEEN 0 AND 10000000000),
	updated_at      timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (organization_id, site_id, item_id),
	FOREIGN KEY (organization_id, site_id) REFERENCES sites (organization_id, id),
	FOREIGN KEY (organization_id, item_id) REFERENCES items (organization_id, id)
);

-- Codes are unique without regard to case, as on the edge (COLLATE NOCASE).
CREATE TABLE coupons (
	organization_id   uuid NOT NULL REFERENCES organizations (id),
	id                uuid NOT NULL,
	code              text NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
	kind              text NOT NULL CHECK (kind IN ('percent', 'fixed')),
	value             bigint NOT NULL CHECK (value >= 0 AND (kind <> 'percent' OR value <= 100)),
	valid_from        timestamptz NOT NULL,
	valid_to          timestamptz NOT NULL CHECK (valid_to > valid_from),
	max_uses_per_site integer NOT NULL DEFAULT 0 CHECK (max_uses_per_site >= 0), -- 0: unlimited
	created_at        timestamptz NOT NULL DEFAULT now(),
	archived_at       timestamptz,
	PRIMARY KEY (organization_id, id)
);
CREATE UNIQUE INDEX coupons_code_key ON coupons (organization_id, lower(code));

CREATE TABLE cost_centers (
	organization_id uuid NOT NULL REFERENCES organizations (id),
	id              uuid NOT NULL,
	code            text NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
	name            text NOT NULL DEFAULT '',
	created_at      timestamptz NOT NULL DEFAULT now(),
	archived_at     timestamptz,
	PRIMARY KEY (organization_id, id)
);
CREATE UNIQUE INDEX cost_centers_code_key ON cost_centers (organization_id, lower(code));

-- Emails are stored lower-cased and are unique across organizations: a
-- login names a person, not a tenant.
CREATE TABLE users (
	organization_id uuid NOT NULL REFERENCES organizations (id),
	id              uuid NOT NULL,
	email           text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
	password_hash   text NOT NULL,
	name            text NOT NULL DEFAULT '',
	role            text NOT NULL CHECK (role IN ('owner', 'admin', 'facility_manager', 'viewer')),
	disabled_at     timestamptz,
	created_at      timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (organization_id, id),
	CONSTRAINT users_email_key UNIQUE (email)
);

-- The sites a facility manager may manage.
CREATE TABLE user_sites (
	organization_id uuid NOT NULL,
	user_id         uuid NOT NULL,
	site_id         uuid NOT NULL,
	PRIMARY KEY (organization_id, user_id, site_id),
	FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE,
	FOREIGN KEY (organization_id, site_id) REFERENCES sites (organization_id, id)
);

-- Rotating refresh tokens, stored as hashes. A family is one login's chain
-- of tokens: presenting a spent token revokes the whole family.
CREATE TABLE refresh_tokens (
	organization_id uuid NOT NULL,
	id              uuid NOT NULL,
	user_id         uuid NOT NULL,
	family_id       uuid NOT NULL,
	token_hash      bytea NOT NULL CONSTRAINT refresh_tokens_hash_key UNIQUE,
	expires_at      timestamptz NOT NULL,
	used_at         timestamptz,
	revoked_at      timestamptz,
	created_at      timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (organization_id, id),
	FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (organization_id, family_id);

-- Technicians' API keys: named, hashed, revocable; prefix is the part of
-- the key shown in listings so a person can tell keys apart.
CREATE TABLE api_keys (
	organization_id uuid NOT NULL,
	id              uuid NOT NULL,
	name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	key_hash        bytea NOT NULL CONSTRAINT api_keys_hash_key UNIQUE,
	prefix          text NOT NULL,
	created_by      uuid,
	created_at      timestamptz NOT NULL DEFAULT now(),
	last_used_at    timestamptz,
	revoked_at      timestamptz,
	PRIMARY KEY (organization_id, id),
	FOREIGN KEY (organization_id) REFERENCES organizations (id),
	FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id)
);

-- Staff tablets' credentials; the edge checks them (they come down with
-- the site's data), the cloud makes and revokes them.
CREATE TABLE tablets (
	organization_id uuid NOT NULL,
	id              uuid NOT NULL,
	site_id         uuid NOT NULL,
	name            text NOT NULL DEFAULT '',
	username        text NOT NULL,
	password_hash   text NOT NULL,
	created_at      timestamptz NOT NULL DEFAULT now(),
	revoked_at      timestamptz,
	PRIMARY KEY (organization_id, id),
	CONSTRAINT tablets_username_key UNIQUE (organization_id, username),
	FOREIGN KEY (organization_id, site_id) REFERENCES sites (organization_id, id)
);

-- Enrolled edge nodes. applied_seq is the node's push high-water mark: the
-- last outbox sequence number applied, advanced in the same transaction
-- as the events it covers (sync invariant 2).
CREATE TABLE edge_nodes (
	organization_id  uuid NOT NULL,
	id               uuid NOT NULL,
	site_id          uuid NOT NULL,
	name             text NOT NULL DEFAULT '',
	credential_hash  bytea NOT NULL CONSTRAINT edge_nodes_hash_key UNIQUE,
	enrolled_at      timestamptz NOT NULL DEFAULT now(),
	last_seen_at     timestamptz,
	software_version text NOT NULL DEFAULT '',
	applied_seq      bigint NOT NULL DEFAULT 0 CHECK (applied_seq >= 0),
	revoked_at       timestamptz,
	PRIMARY KEY (organization_id, id),
	CONSTRAINT edge_nodes_site_key UNIQUE (organization_id, site_id, id),
	FOREIGN KEY (organization_id, site_id) REFERENCES sites (organization_id, id)
);

-- One-time tokens an edge enrolls with (sync invariant 10).
CREATE TABLE enrollment_tokens (
	organization_id uuid NOT NULL,
	id              uuid NOT NULL,
	site_id         uuid NOT NULL,
	token_hash      bytea NOT NULL CONSTRAINT enrollment_tokens_hash_key UNIQUE,
	expires_at      timestamptz NOT NULL,
	used_at         timestamptz,
	created_at      timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (organization_id, id),
	FOREIGN KEY (organization_id, site_id) REFERENCES sites (organization_id, id)
);

-- From here on the data is the edges' (DESIGN.md, "Data ownership"): it
-- arrives through sync, already decided. Checks stay loose on purpose: an
-- event a check refuses becomes a dead letter, not a lost order.

CREATE TABLE attendee_sessions (
	organization_id uuid NOT NULL,
	id              uuid NOT NULL,
	site_id         uuid NOT NULL,
	space_id        uuid NOT NULL,
	created_at      timestamptz NOT NULL,
	expires_at      timestamptz NOT NULL,
	expired_at      timestamptz,
	PRIMARY KEY (organization_id, id),
	FOREIGN KEY (organization_id, site_id, space_id) REFERENCES spaces (organization_id, site_id, id)
);

CREATE TABLE orders (
	organization_id  uuid NOT NULL,
	id               uuid NOT NULL,
	site_id          uuid NOT NULL,
	space_id         uuid NOT NULL,
	session_id       uuid,
	node_id          uuid, -- the edge node that took it; NULL if made in the cloud
	status           text NOT NULL CHECK (status IN ('placed', 'accepted', 'preparing', 'ready', 'delivered', 'cancelled')),
	note             text NOT NULL DEFAULT '',
	deliver_to       text NOT NULL CHECK (deliver_to IN ('room', 'pickup')),
	subtotal         bigint NOT NULL CHECK (subtotal >= 0),
	discount         bigint NOT NULL CHECK (discount >= 0),
	total            bigint NOT NULL CHECK (total >= 0),
	currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
	coupon_code      text NOT NULL DEFAULT '',
	cost_center      text NOT NULL DEFAULT '',
	payment_method   text NOT NULL CHECK (payment_method IN ('complimentary', 'cost_center')),
	catalog_revision bigint NOT NULL,
	cancel_reason    text NOT NULL DEFAULT '',
	created_at       timestamptz NOT NULL,
	updated_at       timestamptz NOT NULL,
	PRIMARY KEY (organization_id, id),
	FOREIGN KEY (organization_id, site_id, space_id) REFERENCES spaces (organization_id, site_id, id),
	FOREIGN KEY (organization_id, session_id) REFERENCES attendee_sessions (organization_id, id),
	FOREIGN KEY (organization_id, site_id, node_id) REFERENCES edge_nodes (organization_id, site_id, id)
);
-- A site's orders over a time range, newest first (the dashboard's list,
-- orders of a site for a day); id breaks ties for cursor pagination.
CREATE INDEX orders_site_time ON orders (organization_id, site_id, created_at, id);
-- The open queue of a site: small, and read constantly.
CREATE INDEX orders_open ON orders (organization_id, site_id, created_at, id)
	WHERE status IN ('placed', 'accepted', 'preparing', 'ready');
-- Organization-wide reports over a time range (consumption per day,
-- spend per cost center), whatever the site.
CREATE INDEX orders_org_time ON orders (organization_id, created_at);
CREATE INDEX orders_space_time ON orders (organization_id, space_id, created_at);

-- Consumption reports read lines through their order (by created_at,
-- above) and then the primary key.
CREATE TABLE order_lines (
	organization_id uuid NOT NULL,
	order_id        uuid NOT NULL,
	line_no         integer NOT NULL CHECK (line_no > 0),
	item_id         uuid NOT NULL,
	name            text NOT NULL,
	quantity        integer NOT NULL CHECK (quantity > 0),
	unit_price      bigint NOT NULL CHECK (unit_price >= 0),
	line_total      bigint NOT NULL CHECK (line_total >= 0),
	note            text NOT NULL DEFAULT '',
	PRIMARY KEY (organization_id, order_id, line_no),
	FOREIGN KEY (organization_id, order_id) REFERENCES orders (organization_id, id) ON DELETE CASCADE,
	FOREIGN KEY (organization_id, item_id) REFERENCES items (organization_id, id)
);
CREATE INDEX order_lines_item ON order_lines (organization_id, item_id);

CREATE TABLE order_status_history (
	organization_id uuid NOT NULL,
	id              uuid NOT NULL,
	order_id        uuid NOT NULL,
	from_status     text NOT NULL DEFAULT '',
	to_status       text NOT NULL,
	reason          text NOT NULL DEFAULT '',
	actor           text NOT NULL DEFAULT '',
	at              timestamptz NOT NULL,
	PRIMARY KEY (organization_id, id),
	FOREIGN KEY (organization_id, order_id) REFERENCES orders (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX order_status_history_order ON order_status_history (organization_id, order_id, at);

CREATE TABLE payments (
	organization_id uuid NOT NULL,
	id              uuid NOT NULL,
	order_id        uuid NOT NULL,
	method          text NOT NULL CHECK (method IN ('complimentary', 'cost_center')),
	amount          bigint NOT NULL CHECK (amount >= 0),
	discount        bigint NOT NULL DEFAULT 0 CHECK (discount >= 0),
	currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
	coupon_code     text NOT NULL DEFAULT '',
	cost_center     text NOT NULL DEFAULT '',
	created_at      timestamptz NOT NULL,
	PRIMARY KEY (organization_id, id),
	CONSTRAINT payments_order_key UNIQUE (organization_id, order_id),
	FOREIGN KEY (organization_id, order_id) REFERENCES orders (organization_id, id)
);
CREATE INDEX payments_time ON payments (organization_id, created_at);

CREATE TABLE coupon_redemptions (
	organization_id uuid NOT NULL,
	id              uuid NOT NULL,
	site_id         uuid NOT NULL,
	coupon_id       uuid NOT NULL,
	order_id        uuid NOT NULL,
	discount        bigint NOT NULL CHECK (discount >= 0),
	created_at      timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (organization_id, id),
	CONSTRAINT coupon_redemptions_order_key UNIQUE (organization_id, order_id),
	FOREIGN KEY (organization_id, site_id) REFERENCES sites (organization_id, id),
	FOREIGN KEY (organization_id, coupon_id) REFERENCES coupons (organization_id, id),
	FOREIGN KEY (organization_id, order_id) REFERENCES orders (organization_id, id)
);
-- Counting a coupon's uses at a site against max_uses_per_site.
CREATE INDEX coupon_redemptions_coupon ON coupon_redemptions (organization_id, coupon_id, site_id);

-- The stock ledger: a level is the sum of its movements. Movements are
-- facts from either side and are never updated (the runner grants the
-- service role no UPDATE or DELETE here). order_id has no foreign key: a
-- movement may reach the cloud in a batch before or after its order.
CREATE TABLE stock_movements (
	organization_id uuid NOT NULL,
	id              uuid NOT NULL,
	site_id         uuid NOT NULL,
	item_id         uuid NOT NULL,
	delta           bigint NOT NULL CHECK (delta BETWEEN -100000 AND 100000),
	reason          text NOT NULL CHECK (reason IN ('sale', 'cancel_return', 'restock', 'waste', 'count', 'adjustment')),
	order_id        uuid,
	origin          text NOT NULL CHECK (origin IN ('edge', 'cloud')),
	actor           text NOT NULL DEFAULT '',
	created_at      timestamptz NOT NULL,
	PRIMARY KEY (organization_id, id),
	FOREIGN KEY (organization_id, site_id) REFERENCES sites (organization_id, id),
	FOREIGN KEY (organization_id, item_id) REFERENCES items (organization_id, id)
);
-- Stock levels of a site: SUM(delta) per item from the index alone.
CREATE INDEX stock_movements_level ON stock_movements (organization_id, site_id, item_id) INCLUDE (delta);
CREATE INDEX stock_movements_time ON stock_movements (organization_id, site_id, created_at, id);

-- Who changed what, with the row before and after. Append-only for the
-- service role.
CREATE TABLE audit_log (
	organization_id uuid NOT NULL REFERENCES organizations (id),
	id              uuid NOT NULL,
	actor_type      text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'edge_node', 'system')),
	actor_id        text NOT NULL DEFAULT '',
	action          text NOT NULL,
	resource        text NOT NULL,
	resource_id     text NOT NULL DEFAULT '',
	before          jsonb,
	after           jsonb,
	at              timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (organization_id, id)
);
CREATE INDEX audit_log_time ON audit_log (organization_id, at, id);

-- Events the cloud could not apply, kept whole (sync invariant 3).
CREATE TABLE dead_letters (
	organization_id uuid NOT NULL,
	id              uuid NOT NULL,
	node_id         uuid NOT NULL,
	seq             bigint NOT NULL,
	event_type      text NOT NULL,
	payload         jsonb NOT NULL,
	reason          text NOT NULL,
	created_at      timestamptz NOT NULL DEFAULT now(),
	reapplied_at    timestamptz,
	PRIMARY KEY (organization_id, id),
	CONSTRAINT dead_letters_event_key UNIQUE (organization_id, node_id, seq),
	FOREIGN KEY (organization_id, node_id) REFERENCES edge_nodes (organization_id, id)
);

-- What each site's edge must pull (sync invariant 4), ordered by seq.
-- Caution for readers: identity values are handed out at INSERT, not at
-- COMMIT, so a row with a smaller seq can become visible after one with a
-- larger seq. A cursor "seq > last" must not move past a seq whose
-- transaction may still be open (e.g. read only below the oldest running
-- writer's seq, or serialise a site's writers).
CREATE TABLE change_feed (
	organization_id uuid NOT NULL,
	seq             bigint GENERATED ALWAYS AS IDENTITY,
	site_id         uuid NOT NULL,
	kind            text NOT NULL,
	entity_id       uuid NOT NULL,
	payload         jsonb NOT NULL,
	created_at      timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (organization_id, seq),
	FOREIGN KEY (organization_id, site_id) REFERENCES sites (organization_id, id)
);
CREATE INDEX change_feed_site ON change_feed (organization_id, site_id, seq);

-- Global tables: no organization_id, no row-level security.

-- JWT signing keys, shared by every cloud instance so that a token issued
-- by one verifies on another, and rotated by adding a key and retiring the
-- old one.
CREATE TABLE signing_keys (
	kid         text PRIMARY KEY,
	algorithm   text NOT NULL,
	private_key bytea NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now(),
	retired_at  timestamptz
);

-- Failed-login counters per fixed window, shared by every instance: the
-- key is e.g. "email:a@b.c" or "ip:192.0.2.1".
CREATE TABLE login_attempts (
	key          text NOT NULL,
	window_start timestamptz NOT NULL,
	count        integer NOT NULL DEFAULT 0,
	PRIMARY KEY (key, window_start)
);
CREATE INDEX login_attempts_window ON login_attempts (window_start);

-- pantry_tenant_rls puts a tenant table under row-level security: ENABLE,
-- FORCE (so that not even the owning role escapes it by accident) and one
-- policy for every command and every role. A later migration that adds a
-- tenant table calls it too; TestRowLevelSecurityCatalog fails until it
-- does.
--
-- NULLIF: once a transaction has set app.org_id, the setting reads ''
-- (not NULL) on that connection after it ends, and ''::uuid is an error;
-- with NULLIF a query without a tenant sees no rows instead. The setting is
-- missing_ok (true) so that a connection that never set it reads NULL too.
CREATE FUNCTION pantry_tenant_rls(tbl regclass, key_column name DEFAULT 'organization_id')
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
	EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
	EXECUTE format($p$CREATE POLICY tenant_isolation ON %s
		USING (%I = NULLIF(current_setting('app.org_id', true), '')::uuid)
		WITH CHECK (%I = NULLIF(current_setting('app.org_id', true), '')::uuid)$p$,
		tbl, key_column, key_column);
END
$$;
REVOKE ALL ON FUNCTION pantry_tenant_rls(regclass, name) FROM PUBLIC;

SELECT pantry_tenant_rls('organizations', 'id');
SELECT pantry_tenant_rls(t) FROM unnest(ARRAY[
	'sites', 'spaces', 'items', 'site_menu_items', 'coupons', 'cost_centers',
	'users', 'user_sites', 'refresh_tokens', 'api_keys', 'tablets', 'edge_nodes',
	'enrollment_tokens', 'attendee_sessions', 'orders', 'order_lines',
	'order_status_history', 'payments', 'coupon_redemptions', 'stock_movements',
	'audit_log', 'dead_letters', 'change_feed'
]::regclass[]) AS t;

-- Pre-tenant lookups. A login, a refresh, an API key, an edge node's
-- credential and an enrollment token each name their organization only
-- through a row the service role cannot see until it knows the
-- organization. These SECURITY DEFINER functions run as the migrator, look
-- up one row by its unique key and return only what authentication needs;
-- the service role may EXECUTE them (granted by the runner) and nobody else
-- may (REVOKE ... FROM PUBLIC: functions are executable by everyone by
-- default). search_path is pinned so that no caller can shadow a table.
--
-- FORCE ROW LEVEL SECURITY applies to the migrator too, so unless it is a
-- superuser it would see no rows here either. pantry_lookup policies let
-- the migrator, and only it, SELECT the five tables the lookups read. The
-- migrator owns these tables and could switch RLS off anyway; what FORCE
-- protects against, the service running as the owner by mistake, Open
-- prevents by always switching to the service role.
CREATE POLICY pantry_lookup ON users FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY pantry_lookup ON refresh_tokens FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY pantry_lookup ON api_keys FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY pantry_lookup ON edge_nodes FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY pantry_lookup ON enrollment_tokens FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION pantry_login_lookup(p_email text)
RETURNS TABLE (organization_id uuid, user_id uuid, password_hash text, role text, disabled boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
	SELECT u.organization_id, u.id, u.password_hash, u.role, u.disabled_at IS NOT NULL
	FROM public.users u WHERE u.email = lower(p_email)
$$;

CREATE FUNCTION pantry_refresh_token_lookup(p_hash bytea)
RETURNS TABLE (organization_id uuid, token_id uuid, user_id uuid, family_id uuid,
	expires_at timestamptz, used_at timestamptz, revoked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
	SELECT t.organization_id, t.id, t.user_id, t.family_id, t.expires_at, t.used_at, t.revoked_at
	FROM public.refresh_tokens t WHERE t.token_hash = p_hash
$$;

CREATE FUNCTION pantry_api_key_lookup(p_hash bytea)
RETURNS TABLE (organization_id uuid, key_id uuid, name text, created_by uuid, revoked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
	SELECT k.organization_id, k.id, k.name, k.created_by, k.revoked_at
	FROM public.api_keys k WHERE k.key_hash = p_hash
$$;

CREATE FUNCTION pantry_edge_node_lookup(p_hash bytea)
RETURNS TABLE (organization_id uuid, node_id uuid, site_id uuid, revoked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
	SELECT n.organization_id, n.id, n.site_id, n.revoked_at
	FROM public.edge_nodes n WHERE n.credential_hash = p_hash
$$;

CREATE FUNCTION pantry_enrollment_token_lookup(p_hash bytea)
RETURNS TABLE (organization_id uuid, token_id uuid, site_id uuid, expires_at timestamptz, used_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
	SELECT e.organization_id, e.id, e.site_id, e.expires_at, e.used_at
	FROM public.enrollment_tokens e WHERE e.token_hash = p_hash
$$;

REVOKE ALL ON FUNCTION pantry_login_lookup(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pantry_refresh_token_lookup(bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION pantry_api_key_lookup(bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION pantry_edge_node_lookup(bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION pantry_enrollment_token_lookup(bytea) FROM PUBLIC;
