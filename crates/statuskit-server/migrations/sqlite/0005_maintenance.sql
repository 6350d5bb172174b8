-- The maintenance switch, shared by every instance on this database (each one polls it): one row,
-- `enabled` 0 or 1, and the `Retry-After` its 503s announce while on.
CREATE TABLE maintenance (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    enabled             INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    retry_after_seconds INTEGER NOT NULL CHECK (retry_after_seconds > 0),
    updated_ms          INTEGER NOT NULL
);
INSERT INTO maintenance (id, enabled, retry_after_seconds, updated_ms) VALUES (1, 0, 120, 0);
