package postgres

// Replication (syncproto): what the cloud's sync endpoints do with what an
// edge sends and asks for. sync_push.go applies pushed events, sync_enroll.go
// enrolls and authenticates nodes, sync_pull.go serves a site's feed,
// deadletters.go keeps what could not be applied, nodes.go shows admins
// every node's health.
