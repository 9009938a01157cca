-- web_sessions: the admin dashboard's sign-ins (issue 12). A browser holds
-- a cookie "<organization id>.<secret>"; the table keeps the secret's
-- SHA-256 only, so a copy of the database signs nobody in.
--
-- The organization travels in the cookie so that finding a session is an
-- ordinary tenant read: the store sets the tenant from the cookie and
-- looks the hash up under row-level security. A cookie whose organization
-- was changed finds nothing (the hash belongs to another tenant), so no
-- SECURITY DEFINER lookup is needed, and on Citus the read routes to the
-- organization's shard.
--
-- A session ends at expires_at (absolute), when it has been idle past
-- idle_until, when it is revoked (sign-out), or when its user is disabled
-- (the store reads the user with the session on every request).
-- last_seen_at moves idle_until on; the store writes it at most once a
-- minute per session.
CREATE TABLE web_sessions (
	organization_id uuid NOT NULL REFERENCES organizations (id),
	id              uuid NOT NULL,
	user_id         uuid NOT NULL,
	token_hash      bytea NOT NULL CHECK (length(token_hash) = 32),
	-- How the user signed in: 'password' or 'sso'.
	method          text NOT NULL CHECK (method IN ('password', 'sso')),
	user_agent      text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512),
	address         text NOT NULL DEFAULT '' CHECK (length(address) <= 64),
	created_at      timestamptz NOT NULL,
	last_seen_at    timestamptz NOT NULL,
	idle_until      timestamptz NOT NULL,
	expires_at      timestamptz NOT NULL,
	revoked_at      timestamptz,
	PRIMARY KEY (organization_id, id),
	CONSTRAINT web_sessions_hash_key UNIQUE (organization_id, token_hash),
	FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX web_sessions_user ON web_sessions (organization_id, user_id);

SELECT pantry_tenant_rls('web_sessions');
