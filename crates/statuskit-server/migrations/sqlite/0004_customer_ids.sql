-- POST ids come from a counter of their own (see `CustomerStore::create`), never moved by ids a
-- PUT chose: with AUTOINCREMENT, one PUT of /v1/customers/9007199254740991 pushed every later
-- POST, in every account, past the largest id the API serves.
-- It starts after the last id SQLite gave out. A sequence already past 2^52 was pushed there by
-- such a PUT (no run of POSTs gets that far): then it starts after the largest id below 2^52.
-- Ids found taken are skipped when a POST takes one.
CREATE TABLE customer_ids (
    next_id INTEGER NOT NULL
);
INSERT INTO customer_ids (next_id)
SELECT COALESCE(
    (SELECT seq FROM sqlite_sequence WHERE name = 'customers' AND seq < 4503599627370496),
    (SELECT MAX(id) FROM customers WHERE id < 4503599627370496),
    0
) + 1;
