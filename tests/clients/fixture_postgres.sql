-- The control: PostgreSQL relations shaped as Eddy's fixture makes them (a table with a primary
-- key, a stream seen as a view, a stream to COPY into).
CREATE SCHEMA data;
CREATE TABLE data.orders (id int, item text, qty int);
CREATE TABLE data.imports (id int, item text, qty int);
CREATE VIEW public."ORDERS" AS SELECT id AS "ID", item AS "ITEM", qty AS "QTY" FROM data.orders;
CREATE VIEW public."IMPORTS" AS SELECT id AS "ID", item AS "ITEM", qty AS "QTY" FROM data.imports;
CREATE TABLE public."STOCK" ("ITEM" text PRIMARY KEY, "N" int);
INSERT INTO public."STOCK" VALUES ('apple', 10), ('pear', 4);
INSERT INTO data.orders VALUES (1, 'apple', 3), (2, 'pear', 5), (3, 'fig, dried', 7);
