-- The maintenance switch, shared by every instance on this database (each one polls it): one row,
-- whether it is on, and the `Retry-After` its 503s announce while on.
CREATE TABLE maintenance (
    id                  BIGINT  PRIMARY KEY CONSTRAINT maintenance_one_row CHECK (id = 1),
    enabled             BOOLEAN NOT NULL,
    retry_after_seconds BIGINT  NOT NULL CONSTRAINT maintenance_retry_after_positive CHECK (retry_after_seconds > 0),
    updated_ms          BIGINT  NOT NULL
);
INSERT INTO maintenance (id, enabled, retry_after_seconds, updated_ms) VALUES (1, FALSE, 120, 0);
