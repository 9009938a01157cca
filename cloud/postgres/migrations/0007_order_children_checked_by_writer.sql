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
-- PostgreSQL checks a foreign key row by row, starting an executor for
-- each: measured with pg_stat_statements on a push of 100,000 events,
-- the status history alone spent 1.15 s of 4.9 s in its checks, against
-- 0.2 s for the rows themselves, and applying pushes went from 20,000 to
-- 32,000 events/s without these four (BenchmarkApplyPush). The tests
-- that feed the applier orphans (TestApplyPushPoisonEvent and the
-- watermark property) check that none is left behind.
--
-- Orders are never deleted, so ON DELETE CASCADE had nothing to do. The
-- foreign keys that make an unknown item, space, session or coupon a
-- dead letter stay: no statement checks those itself.
ALTER TABLE order_lines DROP CONSTRAINT order_lines_organization_id_order_id_fkey;
ALTER TABLE order_status_history DROP CONSTRAINT order_status_history_organization_id_order_id_fkey;
ALTER TABLE payments DROP CONSTRAINT payments_organization_id_order_id_fkey;
ALTER TABLE coupon_redemptions DROP CONSTRAINT coupon_redemptions_organization_id_order_id_fkey;
