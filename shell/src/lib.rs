//! The `eddy` shell (REPL and `eddy migrate`) will live here, as a pure Postgres-protocol client of
//! `eddy-server`; it is not built yet, and until it is, psql or any Postgres driver is the client.
