// pgjdbc's DatabaseMetaData (what DBeaver, Metabase and Tableau call) and prepared statements with
// typed parameters and a fetch size (portals), against the client checks' fixture.
// Usage: java JdbcChecks HOST PORT DATABASE USER; exits 1 with the reason when a check fails.

import java.sql.*;
import java.util.*;

public class JdbcChecks {
    static void expect(boolean ok, String what) {
        if (!ok) {
            System.err.println("FAILED: " + what);
            System.exit(1);
        }
    }

    public static void main(String[] a) throws Exception {
        String url = "jdbc:postgresql://" + a[0] + ":" + a[1] + "/" + a[2];
        try (Connection c = DriverManager.getConnection(url, a[3], "")) {
            DatabaseMetaData md = c.getMetaData();
            expect(md.getDatabaseProductName().equals("PostgreSQL"), "product name");
            List<String> schemas = new ArrayList<>();
            try (ResultSet rs = md.getSchemas()) { while (rs.next()) schemas.add(rs.getString("TABLE_SCHEM")); }
            expect(schemas.contains("public"), "getSchemas: " + schemas);
            Map<String, String> tables = new TreeMap<>();
            try (ResultSet rs = md.getTables(null, "public", "%", new String[]{"TABLE", "VIEW"})) {
                while (rs.next()) tables.put(rs.getString("TABLE_NAME"), rs.getString("TABLE_TYPE"));
            }
            expect("TABLE".equals(tables.get("STOCK")) && "VIEW".equals(tables.get("ORDERS")), "getTables: " + tables);
            List<String> columns = new ArrayList<>();
            try (ResultSet rs = md.getColumns(null, "public", "STOCK", "%")) {
                while (rs.next()) columns.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME") + ":" + rs.getInt("DATA_TYPE"));
            }
            expect(columns.equals(List.of("ITEM:text:12", "N:int4:4")), "getColumns: " + columns);
            List<String> keys = new ArrayList<>();
            try (ResultSet rs = md.getPrimaryKeys(null, "public", "STOCK")) {
                while (rs.next()) keys.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("PK_NAME"));
            }
            expect(keys.equals(List.of("ITEM:STOCK_pkey")), "getPrimaryKeys: " + keys);
            int types = 0;
            try (ResultSet rs = md.getTypeInfo()) { while (rs.next()) types++; }
            expect(types > 20, "getTypeInfo: " + types);
            try (PreparedStatement ps = c.prepareStatement("SELECT ?::int + 1, ?::float8 * 2, ?::text, ?::timestamp")) {
                ps.setInt(1, 41);
                ps.setDouble(2, 1.5);
                ps.setString(3, "007");
                ps.setTimestamp(4, Timestamp.valueOf("2024-01-02 03:04:05"));
                try (ResultSet rs = ps.executeQuery()) {
                    expect(rs.next(), "a row");
                    expect(rs.getInt(1) == 42 && rs.getDouble(2) == 3.0 && rs.getString(3).equals("007")
                        && rs.getTimestamp(4).equals(Timestamp.valueOf("2024-01-02 03:04:05")), "typed parameters");
                }
            }
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("SELECT \"ID\" FROM \"ORDERS\" WHERE \"QTY\" > ? ORDER BY \"ID\"")) {
                ps.setFetchSize(1);
                ps.setInt(1, 0);
                List<Integer> ids = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) { while (rs.next()) ids.add(rs.getInt(1)); }
                expect(ids.equals(List.of(1, 2, 3)), "fetch size: " + ids);
            }
            c.commit();
        }
        System.out.println("ok");
    }
}
