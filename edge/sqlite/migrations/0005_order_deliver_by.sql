-- deliver_by: when the attendee wants the order ("coffee for 10 at
-- 14:30"), unix nanoseconds (UTC, whole seconds), NULL for as soon as
-- possible. Orders placed before this migration have none. Tablets flag
-- an open order late once it has passed; no query filters on it, so it
-- has no index.
ALTER TABLE orders ADD COLUMN deliver_by INTEGER;
