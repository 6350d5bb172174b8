-- Customers: the resource of the reference service.
-- `version` increases on every write and feeds the strong ETag with `created_ms`, so a
-- customer deleted and created again under the same id never repeats an entity tag.
CREATE TABLE customers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    email       TEXT    NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);

CREATE UNIQUE INDEX customers_email_unique ON customers (email COLLATE NOCASE);
