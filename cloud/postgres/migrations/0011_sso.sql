-- Single sign-on over OpenID Connect for the admin dashboard (cloud/sso).
--
-- sso_configs: one organization's identity provider. A tenant table like
-- any other (organization_id is the whole key; pantry_tenant_rls below).
-- The client secret is stored as given, not hashed: the cloud must send
-- it to the provider's token endpoint, so a hash would be useless. What
-- protects it is row-level security (only a transaction of its own
-- organization sees the row) and the service, which never returns it
-- from a read (GetSSOConfig says only whether one is set). Encrypting it
-- under a key outside the database would also protect it in backups; that
-- needs key management the cloud does not have yet.
CREATE TABLE sso_configs (
	organization_id uuid PRIMARY KEY REFERENCES organizations (id),
	issuer          text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 2048),
	client_id       text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 255),
	client_secret   text NOT NULL CHECK (length(client_secret) BETWEEN 1 AND 1024),
	allowed_domains text[] NOT NULL CHECK (cardinality(allowed_domains) BETWEEN 1 AND 100),
	role_claim      text NOT NULL DEFAULT '' CHECK (length(role_claim) <= 100),
	role_map        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(role_map) = 'object'),
	-- NULL: a sign-in that no mapping matches is refused. Never owner:
	-- owners are named in Pantry, not by an identity provider's groups.
	default_role    text CHECK (default_role IN ('admin', 'facility_manager', 'viewer')),
	enabled         boolean NOT NULL DEFAULT false,
	created_at      timestamptz NOT NULL DEFAULT now(),
	updated_at      timestamptz NOT NULL DEFAULT now()
);

-- sso_logins: sign-ins in progress, one row per authorization request.
-- The browser carries the state to the provider and back; the row keeps
-- the state's SHA-256 (the state is a 256-bit random secret, see
-- cloud/auth's secret.go for why a fast hash suffices), the PKCE verifier
-- and the nonce, which never leave the cloud, and when the state expires
-- and was used: a state is good for one callback only.
--
-- Where it lives. The callback (GET /login/sso/callback?state=...&code=...)
-- arrives before any tenant is known, and it must never be able to act in
-- an organization other than the one whose flow made the state. The
-- credential lookups of 0001 and 0006 answer that problem with a SECURITY
-- DEFINER function over a globally unique hash; web_sessions (0010)
-- answers it by putting the organization in what the browser holds. The
-- state does the same here: it reads "<organization id>.<secret>", the
-- store sets the tenant from the id and looks the hash up under row-level
-- security like any tenant read. A state whose organization part was
-- changed (to sign in to another organization with it) finds nothing,
-- because its hash exists only under the organization that made it. So no
-- SECURITY DEFINER function and no global table: the verifiers and nonces
-- stay under row-level security, the hash is unique per organization
-- only, and on Citus the callback's read routes to one shard. The
-- organization id in the URL tells the provider nothing it does not know
-- (each organization registers its own client there).
CREATE TABLE sso_logins (
	organization_id uuid NOT NULL REFERENCES organizations (id),
	id              uuid NOT NULL,
	state_hash      bytea NOT NULL CHECK (length(state_hash) = 32),
	code_verifier   text NOT NULL CHECK (length(code_verifier) BETWEEN 43 AND 128),
	nonce           text NOT NULL CHECK (length(nonce) BETWEEN 16 AND 128),
	redirect_url    text NOT NULL CHECK (length(redirect_url) BETWEEN 1 AND 2048),
	created_at      timestamptz NOT NULL DEFAULT now(),
	expires_at      timestamptz NOT NULL,
	used_at         timestamptz,
	PRIMARY KEY (organization_id, id),
	CONSTRAINT sso_logins_state_key UNIQUE (organization_id, state_hash)
);
-- Pruning expired sign-ins and counting the open ones, per organization.
CREATE INDEX sso_logins_expiry ON sso_logins (organization_id, expires_at);

SELECT pantry_tenant_rls('sso_configs');
SELECT pantry_tenant_rls('sso_logins');
