"""Drives Superset's REST API against Eddy, as a person clicking through the UI would, and checks
every answer. Run by run.sh with the Superset venv's Python (it has requests).

Adds Eddy as a database, lists its schemas and tables, creates a dataset on VIEWS_PER_PAGE, a bar
chart of SUM(VIEWS) by PAGE and a dashboard holding it, runs the chart's query and a SQL Lab query,
and writes CHART_ID / DASHBOARD_ID to --out for the screenshot.
"""

import argparse
import json
import sys

import requests

METRIC = {
    "expressionType": "SIMPLE",
    "column": {"column_name": "VIEWS"},
    "aggregate": "SUM",
    "label": "SUM(VIEWS)",
}


def fail(message):
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)


class Superset:
    def __init__(self, base):
        self.base = base.rstrip("/")
        self.http = requests.Session()
        login = self.http.post(
            f"{self.base}/api/v1/security/login",
            json={"username": "admin", "password": "admin", "provider": "db", "refresh": True},
            timeout=30,
        )
        if login.status_code != 200:
            fail(f"login: {login.status_code} {login.text}")
        self.http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        # Needed only where CSRF protection is on (run.sh turns it off); harmless otherwise.
        csrf = self.http.get(f"{self.base}/api/v1/security/csrf_token/", timeout=30)
        if csrf.status_code == 200:
            self.http.headers["X-CSRFToken"] = csrf.json()["result"]
            self.http.headers["Referer"] = self.base

    def call(self, method, path, what, expect=(200, 201), **kwargs):
        response = self.http.request(method, f"{self.base}{path}", timeout=120, **kwargs)
        if response.status_code not in expect:
            fail(f"{what}: {method} {path} answered {response.status_code}:\n{response.text}")
        return response.json()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--superset", required=True)
    parser.add_argument("--uri", required=True)
    parser.add_argument("--expected", required=True, help="PAGE|VIEWS pairs separated by commas")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    expected = {
        page: int(views)
        for page, views in (pair.split("|") for pair in args.expected.split(",") if pair)
    }

    s = Superset(args.superset)

    # Database: test the connection first, so a refusal says why.
    database = {"database_name": "Eddy", "sqlalchemy_uri": args.uri}
    test = s.http.post(f"{s.base}/api/v1/database/test_connection/", json=database, timeout=60)
    if test.status_code != 200:
        fail(f"Superset cannot connect to Eddy at {args.uri}: {test.status_code}\n{test.text}")
    print(f"   test_connection: {test.json()}")
    database["expose_in_sqllab"] = True
    db_id = s.call("POST", "/api/v1/database/", "add database", json=database)["id"]
    print(f"   database Eddy: id {db_id}")

    schemas = s.call("GET", f"/api/v1/database/{db_id}/schemas/", "list schemas")["result"]
    print(f"   schemas: {schemas}")
    if "public" not in schemas:
        fail(f"schema public missing from {schemas}")
    tables = s.call(
        "GET",
        f"/api/v1/database/{db_id}/tables/",
        "list tables",
        params={"q": "(force:!t,schema_name:public)"},
    )["result"]
    listed = {t["value"]: t["type"] for t in tables}
    print(f"   tables and views of public: {listed}")
    for name in ("PAGEVIEWS", "VIEWS_PER_PAGE"):
        if name not in listed:
            fail(f"{name} is not among the tables Superset lists: {listed}")

    # Dataset on the table the persistent query maintains.
    ds_id = s.call(
        "POST",
        "/api/v1/dataset/",
        "create dataset",
        json={"database": db_id, "schema": "public", "table_name": "VIEWS_PER_PAGE"},
    )["id"]
    dataset = s.call("GET", f"/api/v1/dataset/{ds_id}", "read dataset")["result"]
    columns = {c["column_name"]: c["type"] for c in dataset["columns"]}
    print(f"   dataset VIEWS_PER_PAGE: id {ds_id}, columns {columns}")
    for name in ("PAGE", "VIEWS", "TOTAL_MS"):
        if name not in columns:
            fail(f"column {name} missing from the dataset: {columns}")

    # Bar chart: SUM(VIEWS) by PAGE. The form data is what Explore saves; the query context is what
    # the chart's frontend sends to /api/v1/chart/data (a categorical x axis, pivoted per metric).
    form_data = {
        "datasource": f"{ds_id}__table",
        "viz_type": "echarts_timeseries_bar",
        "x_axis": "PAGE",
        "metrics": [METRIC],
        "groupby": [],
        "adhoc_filters": [],
        "row_limit": 1000,
        "order_desc": True,
        "x_axis_sort": "SUM(VIEWS)",
        "x_axis_sort_asc": False,
        "orientation": "vertical",
        "show_value": True,
        "show_legend": False,
        "x_axis_title": "page",
        "x_axis_title_margin": 30,
        "y_axis_title": "views",
        "y_axis_title_margin": 40,
        "color_scheme": "supersetColors",
    }
    query_context = {
        "datasource": {"id": ds_id, "type": "table"},
        "force": True,
        "queries": [
            {
                "columns": [
                    {
                        "columnType": "BASE_AXIS",
                        "sqlExpression": "PAGE",
                        "label": "PAGE",
                        "expressionType": "SQL",
                    }
                ],
                "metrics": [METRIC],
                "orderby": [[METRIC, False]],
                "filters": [],
                "extras": {"having": "", "where": ""},
                "row_limit": 1000,
                "series_columns": [],
                "series_limit": 0,
                "order_desc": True,
                "post_processing": [
                    {
                        "operation": "pivot",
                        "options": {
                            "index": ["PAGE"],
                            "columns": [],
                            "aggregates": {"SUM(VIEWS)": {"operator": "mean"}},
                            "drop_missing_columns": False,
                        },
                    },
                    {"operation": "flatten"},
                    {"operation": "sort", "options": {"by": "SUM(VIEWS)", "ascending": False}},
                ],
            }
        ],
        "form_data": form_data,
        "result_format": "json",
        "result_type": "full",
    }
    chart_id = s.call(
        "POST",
        "/api/v1/chart/",
        "create chart",
        json={
            "slice_name": "Page views (Eddy table VIEWS_PER_PAGE)",
            "viz_type": form_data["viz_type"],
            "datasource_id": ds_id,
            "datasource_type": "table",
            "params": json.dumps(form_data),
            "query_context": json.dumps(query_context),
        },
    )["id"]
    print(f"   chart: id {chart_id}")

    # The chart's own (saved) query, as a dashboard or a report runs it: Eddy answers the SQL, then
    # Superset pivots the rows per x value (in pandas) and sorts the bars by views.
    result = s.call("GET", f"/api/v1/chart/{chart_id}/data/", "chart data", params={"format": "json"})
    query = result["result"][0]
    print("   SQL Superset sent for the chart:\n      " + query["query"].replace("\n", "\n      "))
    rows = {row["PAGE"]: int(row["SUM(VIEWS)"]) for row in query["data"]}
    print(f"   chart rows: {rows}")
    if rows != expected:
        fail(f"chart rows {rows} != expected {expected}")
    views = [row["SUM(VIEWS)"] for row in query["data"]]
    if views != sorted(views, reverse=True):
        fail(f"chart rows are not ordered by SUM(VIEWS) descending: {views}")

    # SQL Lab: a pull query typed by hand.
    sqllab = s.call(
        "POST",
        "/api/v1/sqllab/execute/",
        "SQL Lab query",
        json={
            "database_id": db_id,
            "schema": "public",
            "sql": 'SELECT "PAGE", "VIEWS", "TOTAL_MS" FROM "VIEWS_PER_PAGE" ORDER BY "VIEWS" DESC',
            "runAsync": False,
            "client_id": "eddydemo1",
        },
    )
    lab_rows = {row["PAGE"]: int(row["VIEWS"]) for row in sqllab["data"]}
    print(f"   SQL Lab rows: {lab_rows}")
    if lab_rows != expected:
        fail(f"SQL Lab rows {lab_rows} != expected {expected}")

    # Dashboard holding the chart.
    position = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": ["ROW-1"], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": "Eddy page views"}},
        "ROW-1": {
            "type": "ROW",
            "id": "ROW-1",
            "children": ["CHART-1"],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        },
        "CHART-1": {
            "type": "CHART",
            "id": "CHART-1",
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID", "ROW-1"],
            "meta": {"width": 8, "height": 60, "chartId": chart_id},
        },
    }
    dashboard_id = s.call(
        "POST",
        "/api/v1/dashboard/",
        "create dashboard",
        json={
            "dashboard_title": "Eddy page views",
            "slug": "eddy-pageviews",
            "published": True,
            "position_json": json.dumps(position),
        },
    )["id"]
    s.call("PUT", f"/api/v1/chart/{chart_id}", "add chart to dashboard", json={"dashboards": [dashboard_id]})
    on_dashboard = s.call("GET", f"/api/v1/dashboard/{dashboard_id}/charts", "dashboard charts")["result"]
    if [c["id"] for c in on_dashboard] != [chart_id]:
        fail(f"dashboard {dashboard_id} holds {on_dashboard}, not chart {chart_id}")
    print(f"   dashboard: id {dashboard_id}, holding chart {chart_id}")

    with open(args.out, "w") as out:
        out.write(f"CHART_ID={chart_id}\nDASHBOARD_ID={dashboard_id}\n")


if __name__ == "__main__":
    main()
