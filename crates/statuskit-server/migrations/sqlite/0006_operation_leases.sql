-- Operations are leased as on PostgreSQL: the instance working on one is its owner until the lease
-- runs out, renews it at every step, and can finish it only while it still owns it. Several
-- instances on one file (deploy/up.sh without DATABASE_URL) share the work; one that dies leaves
-- its operation to another once the lease has run out.
ALTER TABLE operations ADD COLUMN lease_owner TEXT;
ALTER TABLE operations ADD COLUMN lease_expires_ms INTEGER;
