-- The edge's working state. Times are unix nanoseconds (UTC); money is
-- integer minor units; ids are UUIDv7 text made where the record is born.

-- meta holds the node's identity and counters: org_id, site_id,
-- catalog_revision, and the demo tablet password (demo mode only).
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;

CREATE TABLE sites (
	id       TEXT PRIMARY KEY,
	org_id   TEXT NOT NULL,
	name     TEXT NOT NULL,
	timezone TEXT NOT NULL,
	currency TEXT NOT NULL
) STRICT;

CREATE TABLE spaces (
	id      TEXT PRIMARY KEY,
	site_id TEXT NOT NULL REFERENCES sites (id),
	name    TEXT NOT NULL,
	floor   TEXT NOT NULL DEFAULT '',
	code    TEXT NOT NULL UNIQUE
) STRICT;

CREATE TABLE items (
	id                  TEXT PRIMARY KEY,
	name                TEXT NOT NULL,
	description         TEXT NOT NULL DEFAULT '',
	price_amount        INTEGER NOT NULL CHECK (price_amount >= 0),
	currency            TEXT NOT NULL,
	tags                TEXT NOT NULL DEFAULT '[]',
	allergens           TEXT NOT NULL DEFAULT '[]',
	image_url           TEXT NOT NULL DEFAULT '',
	low_stock_threshold INTEGER NOT NULL DEFAULT 0,
	available           INTEGER NOT NULL DEFAULT 1,
	sort                INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The stock ledger: every movement with its own id. Level = SUM(delta).
CREATE TABLE stock_movements (
	id         TEXT PRIMARY KEY,
	item_id    TEXT NOT NULL REFERENCES items (id),
	delta      INTEGER NOT NULL,
	reason     TEXT NOT NULL,
	order_id   TEXT,
	actor      TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX stock_movements_item ON stock_movements (item_id);

-- stock_levels caches SUM(delta) per item, maintained in the same
-- transaction as each movement so the order path reads one row, not the
-- whole ledger. Tests check it always equals the ledger's sum.
CREATE TABLE stock_levels (
	item_id TEXT PRIMARY KEY REFERENCES items (id),
	level   INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	token_hash BLOB NOT NULL UNIQUE,
	space_id   TEXT NOT NULL REFERENCES spaces (id),
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	expired    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX sessions_due ON sessions (expires_at) WHERE expired = 0;

CREATE TABLE cost_centers (
	id   TEXT PRIMARY KEY,
	code TEXT NOT NULL UNIQUE COLLATE NOCASE,
	name TEXT NOT NULL
) STRICT;

CREATE TABLE coupons (
	id         TEXT PRIMARY KEY,
	code       TEXT NOT NULL UNIQUE COLLATE NOCASE,
	kind       TEXT NOT NULL CHECK (kind IN ('percent', 'fixed')),
	value      INTEGER NOT NULL CHECK (value >= 0),
	valid_from INTEGER NOT NULL,
	valid_to   INTEGER NOT NULL,
	max_uses   INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE orders (
	id             TEXT PRIMARY KEY,
	session_id     TEXT NOT NULL REFERENCES sessions (id),
	space_id       TEXT NOT NULL REFERENCES spaces (id),
	status         TEXT NOT NULL,
	note           TEXT NOT NULL DEFAULT '',
	deliver_to     TEXT NOT NULL,
	subtotal       INTEGER NOT NULL,
	discount       INTEGER NOT NULL,
	total          INTEGER NOT NULL,
	currency       TEXT NOT NULL,
	coupon_code    TEXT NOT NULL DEFAULT '',
	cost_center    TEXT NOT NULL DEFAULT '',
	payment_method TEXT NOT NULL,
	catalog_rev    INTEGER NOT NULL,
	cancel_reason  TEXT NOT NULL DEFAULT '',
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX orders_open ON orders (created_at, id) WHERE status IN ('placed', 'accepted', 'preparing', 'ready');
CREATE INDEX orders_session ON orders (session_id, created_at);
CREATE INDEX orders_created ON orders (created_at, id);

CREATE TABLE order_lines (
	order_id   TEXT NOT NULL REFERENCES orders (id),
	line_no    INTEGER NOT NULL,
	item_id    TEXT NOT NULL REFERENCES items (id),
	name       TEXT NOT NULL,
	quantity   INTEGER NOT NULL CHECK (quantity > 0),
	unit_price INTEGER NOT NULL,
	line_total INTEGER NOT NULL,
	note       TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (order_id, line_no)
) STRICT;

CREATE TABLE order_status_history (
	id          TEXT PRIMARY KEY,
	order_id    TEXT NOT NULL REFERENCES orders (id),
	from_status TEXT NOT NULL,
	to_status   TEXT NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	actor       TEXT NOT NULL DEFAULT '',
	at          INTEGER NOT NULL
) STRICT;
CREATE INDEX order_status_history_order ON order_status_history (order_id, at);

CREATE TABLE payments (
	id          TEXT PRIMARY KEY,
	order_id    TEXT NOT NULL UNIQUE REFERENCES orders (id),
	method      TEXT NOT NULL,
	amount      INTEGER NOT NULL,
	discount    INTEGER NOT NULL,
	currency    TEXT NOT NULL,
	coupon_code TEXT NOT NULL DEFAULT '',
	cost_center TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE coupon_redemptions (
	id         TEXT PRIMARY KEY,
	coupon_id  TEXT NOT NULL REFERENCES coupons (id),
	order_id   TEXT NOT NULL UNIQUE REFERENCES orders (id),
	discount   INTEGER NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX coupon_redemptions_coupon ON coupon_redemptions (coupon_id);

-- Replays of POST /orders with the same Idempotency-Key return the first
-- order; the request hash tells a replay from a different request.
CREATE TABLE idempotency_keys (
	session_id   TEXT NOT NULL REFERENCES sessions (id),
	key          TEXT NOT NULL,
	request_hash BLOB NOT NULL,
	order_id     TEXT NOT NULL REFERENCES orders (id),
	PRIMARY KEY (session_id, key)
) STRICT;

CREATE TABLE tablets (
	id            TEXT PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL,
	name          TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE staff_tokens (
	token_hash BLOB PRIMARY KEY,
	tablet_id  TEXT NOT NULL REFERENCES tablets (id),
	expires_at INTEGER NOT NULL
) STRICT;

-- The transactional outbox. seq is assigned MAX(seq)+1 inside the writing
-- transaction, so a rolled-back write leaves no gap; rows are never deleted.
CREATE TABLE outbox (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	type       TEXT NOT NULL,
	entity_id  TEXT NOT NULL,
	payload    TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	pushed_at  INTEGER
) STRICT;
CREATE INDEX outbox_unpushed ON outbox (seq) WHERE pushed_at IS NULL;
