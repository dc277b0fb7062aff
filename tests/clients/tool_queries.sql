-- What BI and database tools send when they connect, list relations and describe them, as their
-- public sources write it. Each statement must run; the client checks run them one by one against
-- PostgreSQL and against Eddy. A line `-- tool: NAME` starts a tool's statements.

-- tool: metabase
SET extra_float_digits = 2;
SET application_name = 'Metabase v0.50.0';
SHOW TRANSACTION ISOLATION LEVEL;
SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ UNCOMMITTED;
SELECT nspname AS "TABLE_SCHEM", current_database() AS "TABLE_CATALOG" FROM pg_catalog.pg_namespace WHERE nspname <> 'pg_toast' AND (nspname !~ '^pg_temp_' OR nspname = (pg_catalog.current_schemas(true))[1]) AND (nspname !~ '^pg_toast_temp_' OR nspname = replace((pg_catalog.current_schemas(true))[1], 'pg_temp_', 'pg_toast_temp_')) ORDER BY "TABLE_SCHEM";
SELECT "n"."nspname" AS "schema", "c"."relname" AS "name", CASE "c"."relkind" WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS "type", "d"."description" AS "description" FROM "pg_catalog"."pg_class" AS "c" INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "c"."relnamespace" = "n"."oid" LEFT JOIN "pg_catalog"."pg_description" AS "d" ON ("c"."oid" = "d"."objoid") AND ("d"."objsubid" = 0) WHERE ("n"."nspname" !~ '^pg_') AND ("n"."nspname" <> 'information_schema') AND c.relkind IN ('r', 'p', 'v', 'f', 'm') AND ("n"."nspname" IN ('public')) ORDER BY "type" ASC, "schema" ASC, "name" ASC;
SELECT t.schemaname, t.objectname, pg_catalog.has_table_privilege(current_user, '"' || t.schemaname || '"."' || t.objectname || '"', 'select') AS "select" FROM (SELECT schemaname, tablename AS objectname FROM pg_catalog.pg_tables UNION SELECT schemaname, viewname AS objectname FROM pg_catalog.pg_views) t WHERE t.schemaname !~ '^pg_' AND t.schemaname <> 'information_schema';
SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED;
SHOW timezone;
SELECT "public"."STOCK"."ITEM" AS "ITEM", "public"."STOCK"."N" AS "N" FROM "public"."STOCK" ORDER BY "public"."STOCK"."N" DESC LIMIT 2000;
SELECT "public"."ORDERS"."ITEM" AS "ITEM", SUM("public"."ORDERS"."QTY") AS "sum" FROM "public"."ORDERS" GROUP BY "public"."ORDERS"."ITEM" ORDER BY "public"."ORDERS"."ITEM" ASC;

-- tool: grafana
SELECT 1;
SELECT current_setting('server_version_num')::int / 100 AS version;
SELECT quote_ident(table_name) AS "table" FROM information_schema.tables WHERE quote_ident(table_schema) NOT IN ('information_schema', 'pg_catalog', '_timescaledb_cache', '_timescaledb_catalog', '_timescaledb_internal', '_timescaledb_config', 'timescaledb_information', 'timescaledb_experimental') AND table_type = 'BASE TABLE' ORDER BY table_name;
SELECT quote_ident(column_name) AS "column", data_type AS "type" FROM information_schema.columns WHERE table_name = 'STOCK' ORDER BY ordinal_position;
SELECT now() AS "time", "N" AS value FROM "STOCK" ORDER BY 1;

-- tool: dbeaver
SET extra_float_digits = 3;
SET application_name = 'DBeaver 24.0 - Main';
SELECT current_schema(), session_user;
SELECT n.oid, n.*, d.description FROM pg_catalog.pg_namespace n LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid = n.oid AND d.objsubid = 0 AND d.classoid = 'pg_namespace'::regclass ORDER BY nspname;
SHOW search_path;
SELECT db.oid, db.* FROM pg_catalog.pg_database db WHERE datname = current_database();
SELECT version();
SELECT * FROM pg_catalog.pg_enum WHERE 1 <> 1 LIMIT 1;
SELECT reltype FROM pg_catalog.pg_class WHERE 1 <> 1 LIMIT 1;
SELECT c.oid, c.*, d.description FROM pg_catalog.pg_class c LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid = c.oid AND d.objsubid = 0 AND d.classoid = 'pg_class'::regclass WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public') AND c.relkind NOT IN ('i', 'I', 'c');
SELECT c.relname, a.*, pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) AS def_value, dsc.description FROM pg_catalog.pg_attribute a INNER JOIN pg_catalog.pg_class c ON (a.attrelid = c.oid) LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid = ad.adrelid AND a.attnum = ad.adnum) LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid = dsc.objoid AND a.attnum = dsc.objsubid) WHERE NOT a.attisdropped AND c.relname = 'STOCK' AND a.attnum > 0 ORDER BY a.attnum;
SELECT i.*, c.relnamespace FROM pg_catalog.pg_index i INNER JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = (SELECT oid FROM pg_catalog.pg_class WHERE relname = 'STOCK');

-- tool: tableau
SET DateStyle = 'ISO';
SET extra_float_digits = 2;
SHOW client_encoding;
SELECT oid, typbasetype FROM pg_type WHERE typname = 'lo';
SELECT NULL::int AS x LIMIT 0;
BEGIN;
DECLARE "SQL_CUR0x1" CURSOR WITH HOLD FOR SELECT "ITEM", "N" FROM "STOCK";
FETCH 2048 IN "SQL_CUR0x1";
CLOSE "SQL_CUR0x1";
COMMIT;

-- tool: superset
SELECT pg_catalog.version();
SELECT current_schema();
SHOW standard_conforming_strings;
SELECT CAST('test plain returns' AS VARCHAR(60)) AS anon_1;
SELECT "ITEM" AS "ITEM", sum("N") AS "SUM(N)" FROM "public"."STOCK" GROUP BY "ITEM" ORDER BY "SUM(N)" DESC LIMIT 10000;
SELECT i.relname as relname, ix.indisunique, ix.indexprs, a.attname, a.attnum, c.conrelid, ix.indkey::varchar, ix.indoption::varchar, i.reloptions, am.amname, pg_get_expr(ix.indpred, ix.indrelid), ix.indnkeyatts as indnkeyatts FROM pg_class t join pg_index ix on t.oid = ix.indrelid join pg_class i on i.oid = ix.indexrelid left outer join pg_attribute a on t.oid = a.attrelid and a.attnum = ANY(ix.indkey) left outer join pg_constraint c on (ix.indrelid = c.conrelid and ix.indexrelid = c.conindid and c.contype in ('p', 'u', 'x')) left outer join pg_am am on i.relam = am.oid WHERE t.relkind IN ('r', 'v', 'f', 'm', 'p') and t.oid = '"STOCK"'::regclass and ix.indisprimary = 'f' ORDER BY t.relname, i.relname;
