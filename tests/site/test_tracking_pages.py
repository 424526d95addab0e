"""The forecast-tracking pages in a real browser, on the hostile corpus of test_xss: the author
page's score table and calibration chart, the filters, paging and the due/resolved lists, with
no console errors and no payload running."""

from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pytest

from .conftest import Server
from .test_xss import PAYLOADS, hostile  # noqa: F401 (the fixture)

AUTHOR = '<i onclick="window.__xss&&window.__xss(1)">mallory</i>'


@pytest.fixture(scope="module")
def resolved(hostile):  # noqa: F811
    from crux.analysis.tracking import forecast_key, resolve
    from crux.db import connect
    from crux.pipeline.embed import model_name, store_vectors
    from crux.site.export import publish

    con = connect(hostile)
    con.execute("UPDATE forecasts SET implied_probability = probability, form = 'numeric' "
                "WHERE sentence_id = 'x1:s0'")
    key = forecast_key("x1", PAYLOADS[1])
    resolve(con, key, "no", source="https://example.org/outcome", note=PAYLOADS[0])
    # a second forecast of the same event (the same event vector) in the hostile reply
    con.execute("INSERT INTO blocks VALUES ('x-reply:b0', 'x-reply', 0, 'paragraph', ?, 0)", [PAYLOADS[4]])
    con.execute("INSERT INTO sentences VALUES ('x-reply:s0', 'x-reply', 'x-reply:b0', 0, ?, 0, ?, false)",
                [PAYLOADS[4], len(PAYLOADS[4])])
    con.execute("INSERT INTO forecasts (sentence_id, document_id, verbal, event, holder) "
                "VALUES ('x-reply:s0', 'x-reply', ?, ?, ?)", [PAYLOADS[5], PAYLOADS[6], PAYLOADS[3]])
    v = np.eye(1, 384, dtype=np.float32)[0]
    store_vectors(con, model_name(), ["event", "event"], ["x1:s0", "x-reply:s0"], ["h1", "h2"], [v, v])
    publish(con, hostile)
    con.close()
    srv = Server(hostile)
    yield srv, key
    srv.stop()


def _visit(page, srv, path):
    resp = page.goto(srv.url + path, wait_until="load")
    assert resp is not None and resp.status == 200, path
    assert page.evaluate("window.__xss_calls") == [], f"{path}: a payload ran"


def test_author_page_filters_and_lists(resolved, page):
    srv, key = resolved
    page.add_init_script("window.__xss_calls = []; window.__xss = function (n) {"
                         " window.__xss_calls.push(n); };")
    _visit(page, srv, "/forecasts")
    row = page.locator("table.crux-table tbody tr").first
    assert key in row.inner_text() and "no" in row.locator("td.outcome").inner_text()
    _visit(page, srv, "/forecasts/author/" + quote(AUTHOR, safe=""))
    assert page.locator(".crux-scores tbody td").first.inner_text() == "1"
    assert page.locator(".chart-calibration circle.calibration-point").count() == 1
    assert page.locator("h1").inner_text() == f"Forecasts by {AUTHOR}"  # shown as text
    for path in ("/forecasts?status=resolved", "/forecasts?author=" + quote(AUTHOR),
                 "/forecasts?horizon_from=2027-01-01&horizon_to=2027-12-31&page=1"):
        _visit(page, srv, path)
        assert page.locator("table.crux-table tbody tr").count() == 1, path
    for path in ("/forecasts?status=due", "/forecasts?source=nosuch",
                 "/forecasts?horizon_to=2020-01-01&page=abc", "/forecasts?from=%3Cscript%3E"):
        _visit(page, srv, path)
        assert page.locator("table.crux-table tbody tr").count() == 0, path
        assert "No forecasts match these filters" in page.inner_text("body")
    assert page.errors == []
    missing = page.goto(srv.url + "/forecasts/author/nobody", wait_until="load")
    assert missing is not None and missing.status == 404


def test_same_event_group_page(resolved, page):
    from crux.analysis.event_groups import group_id
    from crux.analysis.tracking import forecast_key

    srv, key = resolved
    gid = group_id([key, forecast_key("x-reply", PAYLOADS[4])])
    page.add_init_script("window.__xss_calls = []; window.__xss = function (n) {"
                         " window.__xss_calls.push(n); };")
    _visit(page, srv, "/forecasts")
    links = page.locator(f'td.group a[href="/forecasts/group/{gid}"]')
    assert links.count() == 2 and links.first.inner_text() == "2 forecasts"
    links.first.click()
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/forecasts/group/{gid}")
    assert page.evaluate("window.__xss_calls") == []
    rows = page.locator("table.crux-group tbody tr")
    assert rows.count() == 2
    assert key in rows.first.inner_text() and "no" in rows.first.locator("td.outcome").inner_text()
    assert "2 holders" in page.inner_text(".crux-group-summary")
    assert page.errors == []
    for bad in ("/forecasts/group/g-0000000000", "/forecasts/group/" + quote(PAYLOADS[0], safe="")):
        missing = page.goto(srv.url + bad, wait_until="load")
        assert missing is not None and missing.status == 404, bad
        assert page.evaluate("window.__xss_calls") == []
