-- What an edge node reports of itself at each pull (syncproto capability
-- 2, PullRequest.Status), for the fleet page: when the oldest event its
-- cloud has not acknowledged was written, on the cloud's clock (the
-- edge's time corrected by the skew of the same request), and how many
-- staff tablets are connected to its broker. NULL until a node that
-- reports them pulls; outbox_oldest_at goes back to NULL when a push
-- brings the watermark up to the edge's outbox head.
ALTER TABLE edge_nodes
	ADD COLUMN outbox_oldest_at timestamptz,
	ADD COLUMN tablets_online   integer CHECK (tablets_online >= 0);
