-- Who may do what: accounts own customers; users and OAuth clients belong to an account.
-- Passwords and client secrets are argon2id hashes; tokens are stored only as SHA-256 hashes.
CREATE TABLE accounts (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE
);
INSERT INTO accounts (id, name) VALUES (1, 'default');

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    username      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT    NOT NULL,
    scopes        TEXT    NOT NULL
);

CREATE TABLE oauth_clients (
    client_id   TEXT    PRIMARY KEY,
    secret_hash TEXT    NOT NULL,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    scopes      TEXT    NOT NULL,
    grants      TEXT    NOT NULL
);

-- kind: 'access' or 'refresh'. family: every token descended from one grant, so a reused
-- refresh token revokes them all. used: a refresh token that was exchanged already.
CREATE TABLE tokens (
    hash       TEXT    PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('access', 'refresh')),
    client_id  TEXT    NOT NULL,
    user_id    INTEGER,
    account_id INTEGER NOT NULL,
    scopes     TEXT    NOT NULL,
    family     TEXT    NOT NULL,
    expires_ms INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0,
    used       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tokens_family ON tokens (family);

-- Customers belong to an account; e-mail addresses are unique within one.
ALTER TABLE customers ADD COLUMN account_id INTEGER NOT NULL DEFAULT 1;
DROP INDEX customers_email_unique;
CREATE UNIQUE INDEX customers_account_email_unique ON customers (account_id, email COLLATE NOCASE);
