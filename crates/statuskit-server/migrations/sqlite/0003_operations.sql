-- Work that takes time (avatar thumbnails), safe retries (Idempotency-Key).

-- state: queued, running, succeeded, failed. A running operation found at start-up belonged to
-- a worker that died: it is queued again, so no job is lost.
CREATE TABLE operations (
    id           TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    progress     INTEGER NOT NULL DEFAULT 0,
    input        BLOB,
    content_type TEXT,
    error        TEXT,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL
);
CREATE INDEX operations_state ON operations (state, created_ms);
CREATE INDEX operations_user ON operations (user_id, state);

-- size 0 is the original upload; the others are square thumbnails.
CREATE TABLE avatars (
    user_id      INTEGER NOT NULL,
    size         INTEGER NOT NULL,
    content_type TEXT    NOT NULL,
    bytes        BLOB    NOT NULL,
    etag         TEXT    NOT NULL,
    updated_ms   INTEGER NOT NULL,
    PRIMARY KEY (user_id, size)
);

-- One row per (caller, key): in flight until the first response is stored, then replayed.
CREATE TABLE idempotency (
    owner       TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('in_flight', 'done')),
    status      INTEGER,
    headers     TEXT,
    body        BLOB,
    expires_ms  INTEGER NOT NULL,
    PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_expiry ON idempotency (expires_ms);

-- A customer remembers the key that created it, so a retry after a crash between the insert and
-- the stored response finds it instead of creating it twice.
ALTER TABLE customers ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX customers_idempotency ON customers (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
