"""go-license-detector wrapper. The real binary cannot be installed here (no Debian package, no
Go module proxy), so the subprocess path runs a stand-in script printing the documented JSON."""

import hashlib
import json
import logging
import os
import stat
from pathlib import Path

import pytest

from ingest.licensing import golicense

DOCUMENTED = json.dumps([
    {
        "project": "/src/proj",
        "matches": [
            {"license": "MIT", "confidence": 0.98, "file": "LICENSE"},
            {"license": "JSON", "confidence": 0.81, "file": "LICENSE"},
        ],
    },
    {"project": "/src/empty", "error": "no license file was found"},
])


def test_parse_documented_output():
    findings = golicense.parse_output(DOCUMENTED, detector_version="sha256:abc")
    assert [(f.expression, f.score, f.location) for f in findings] == [
        ("MIT", 0.98, "/src/proj/LICENSE"),
        ("JSON", 0.81, "/src/proj/LICENSE"),
    ]
    first = findings[0]
    assert first.detector == "go-license-detector"
    assert first.extra["detector_version"] == "sha256:abc"
    assert first.extra["project"] == "/src/proj" and first.extra["file"] == "LICENSE"


def test_error_project_yields_no_finding_and_is_logged(caplog):
    with caplog.at_level(logging.INFO, logger=golicense.__name__):
        text = json.dumps([{"project": "/x", "error": "no license file was found"}])
        assert golicense.parse_output(text) == []
    assert "no license file was found" in caplog.text


@pytest.mark.parametrize("text,problem", [
    ("not json", "not JSON"),
    ('{"project": "/x"}', "not a JSON array"),
    ('[{"matches": []}]', "has no 'project'"),
    ('[{"project": "/x", "matches": [{"confidence": 0.9}]}]', "match without licence"),
    ('[{"project": "/x", "matches": [{"license": "MIT", "confidence": "high"}]}]',
     "is not a number"),
])
def test_malformed_output_raises(text, problem):
    with pytest.raises(golicense.GoLicenseDetectorError, match=problem):
        golicense.parse_output(text)


def _fake_binary(directory: Path, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / golicense.BINARY
    script.write_text(f"#!/bin/sh\n{body}", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


FAKE_DETECTOR = """
# Documented CLI: license-detector -f json PATH
if [ "$#" -ne 3 ] || [ "$1" != "-f" ] || [ "$2" != "json" ]; then
    echo "usage: license-detector -f json PATH" >&2
    exit 2
fi
printf '[{"project": "%s", "matches": [{"license": "Apache-2.0", "confidence": 0.93, \
"file": "LICENSE"}]}]\n' "$3"
"""


def test_subprocess_path_with_a_stand_in_binary(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    script = _fake_binary(bindir, FAKE_DETECTOR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "LICENSE").write_text("Apache License\nVersion 2.0\n", encoding="utf-8")

    assert golicense.available()
    [finding] = golicense.detect(project)
    assert finding.expression == "Apache-2.0" and finding.score == 0.93
    assert finding.location == f"{project}/LICENSE"
    licence_hash = hashlib.sha256((project / "LICENSE").read_bytes()).hexdigest()
    assert finding.extra["matched_text_sha256"] == licence_hash
    script_hash = hashlib.sha256(script.read_bytes()).hexdigest()
    assert finding.extra["detector_version"] == f"sha256:{script_hash[:16]}"


def test_failing_binary_raises(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    _fake_binary(bindir, "echo 'boom: cannot open' >&2\nexit 3\n")
    monkeypatch.setenv("PATH", str(bindir))
    with pytest.raises(golicense.GoLicenseDetectorError, match="exited with 3: boom"):
        golicense.detect(tmp_path)


def test_absent_binary_warns_once_and_finds_nothing(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(golicense, "_warned_absent", False)
    assert not golicense.available()
    with caplog.at_level(logging.WARNING, logger=golicense.__name__):
        assert golicense.detect(tmp_path) == []
        assert golicense.detect(tmp_path) == []
    warnings = [r for r in caplog.records if "not on PATH" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].getMessage() == (
        "license-detector not on PATH; skipping go-license-detector"
    )
