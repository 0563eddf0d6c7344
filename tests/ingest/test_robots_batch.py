import json

from ingest.consent.robots_batch import check_batch
from tests.ingest.test_robots import SITE


def test_check_batch_answers_and_reports_bad_lines():
    good = {"robots": SITE, "url": "https://example.com/private/a", "agent": "CCBot"}
    lines = [
        json.dumps(good),
        "{not json",
        "",
        json.dumps({"robots": SITE, "url": "/a"}),
        json.dumps({**good, "agent": "bad agent"}),
        json.dumps({**good, "status": 503}),
        json.dumps([1, 2]),
        {**good, "url": "/public"},
        json.dumps({**good, "status": "200"}),
        "[" * 100_000 + "]" * 100_000,
    ]
    out = list(check_batch(lines))
    assert [o["input_line"] for o in out] == [1, 2, 4, 5, 6, 7, 8, 9, 10]
    assert out[0] == {"input_line": 1, "allowed": False, "rule": "Disallow: /private/",
                      "line": 3, "group": "*", "reason": "matched-rule"}
    assert out[1]["error"].startswith("line 2: ")
    assert out[2] == {"input_line": 4, "error": "line 4: 'agent' must be a string"}
    assert "product token" in out[3]["error"]
    assert out[4]["reason"] == "status-5xx" and out[4]["allowed"] is False
    assert "JSON object" in out[5]["error"]
    assert out[6]["reason"] == "no-matching-rule"
    assert "status" in out[7]["error"]
    assert out[8] == {"input_line": 10, "error": "line 10: JSON nested too deeply"}
    assert all(json.loads(json.dumps(o)) == o for o in out)
