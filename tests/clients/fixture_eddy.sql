-- Eddy's side of the client checks: the same relations as fixture_postgres.sql.
CREATE STREAM orders (id INT KEY, item STRING, qty INT) WITH (KAFKA_TOPIC='orders', VALUE_FORMAT='JSON', PARTITIONS=1);
CREATE STREAM imports (id INT KEY, item STRING, qty INT) WITH (KAFKA_TOPIC='imports', VALUE_FORMAT='JSON', PARTITIONS=1);
CREATE TABLE stock (item STRING PRIMARY KEY, n INT) WITH (KAFKA_TOPIC='stock', VALUE_FORMAT='JSON', PARTITIONS=1);
INSERT INTO stock (item, n) VALUES ('apple', 10);
INSERT INTO stock (item, n) VALUES ('pear', 4);
INSERT INTO orders (id, item, qty) VALUES (1, 'apple', 3);
INSERT INTO orders (id, item, qty) VALUES (2, 'pear', 5);
INSERT INTO orders (id, item, qty) VALUES (3, 'fig, dried', 7);
