-- An order's lines, status history, payment and coupon redemption lose
-- their foreign keys to orders. The statement that writes each of them
-- already proves the order is there, set-based:
--
--   - lines, and an order's first history step, are written in the same
--     batch of statements as the order itself (orderBatch.queue), and
--     the batch fails with it;
--   - a pushed payment or coupon redemption is joined to its order at
--     the node's site and refused unless every row found one
--     (insertPushedPaymentsSQL, insertRedemptionsSQL);
--   - a pushed status change is written only if finalStatusSQL moves its
--     order, at the node's site and in the status the change starts
--     from, in the same savepoint; an order placed in the same push is
--     checked in Go (eventSet.addChange).
--
-- PostgreSQL checks a foreign key row by row, one query per row, and a
-- push writes about four of these rows per order. Applying pushes of
-- 100,000 events in process (BenchmarkApplyPush) went from 37,000 to
-- 48,000-50,000 events/s without these four keys. End to end, with
-- them, five catch-ups of 110,000-140,000 events ran at 9,700-27,300
-- events/s, four of them under 14,000 with PostgreSQL busy inserting
-- status history; without them, 32,000 and 40,000. The tests that feed
-- the applier orphans (TestApplyPushPoisonEvent, TestApplyPushOtherSite,
-- TestApplyPushStatusChanges) check that none is left behind.
--
-- Orders are never deleted, so ON DELETE CASCADE had nothing to do. The
-- foreign keys that make an unknown item, space, session or coupon a
-- dead letter stay: no statement checks those itself.
ALTER TABLE order_lines DROP CONSTRAINT order_lines_organization_id_order_id_fkey;
ALTER TABLE order_status_history DROP CONSTRAINT order_status_history_organization_id_order_id_fkey;
ALTER TABLE payments DROP CONSTRAINT payments_organization_id_order_id_fkey;
ALTER TABLE coupon_redemptions DROP CONSTRAINT coupon_redemptions_organization_id_order_id_fkey;
