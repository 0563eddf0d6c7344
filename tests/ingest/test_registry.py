from dataclasses import dataclass, replace

import pytest

from common.registry import DuplicateNameError, UnknownNameError
from ingest import registry
from ingest.registry import (
    Connector,
    DuplicateFormatError,
    FormatNameError,
    UnknownFormatError,
)


@dataclass(frozen=True)
class _Options:
    limit: int = 3


def _read(path, options):
    return iter(())


PROBE = Connector(name="test_registry_probe_v1", kinds=("other",), description="test",
                  options_type=_Options, read=_read)
registry.register(PROBE)


def test_builtin_connectors_are_listed_by_name():
    names = registry.names()
    assert {"warc_v1", "jsonl_v1", "parquet_v1", "gutenberg_v1", "code_v1"} <= set(names)
    assert [c.name for c in registry.connectors()] == names == sorted(names)
    assert registry.get("test_registry_probe_v1") is PROBE


def test_unknown_format_lists_the_known_ones():
    with pytest.raises(UnknownFormatError) as info:
        registry.get("warc")
    message = str(info.value)
    assert message.startswith("unknown format 'warc'; did you mean warc_v1?")
    assert "known formats: " in message and "jsonl_v1" in message
    assert isinstance(info.value, UnknownNameError) and isinstance(info.value, ValueError)


def test_a_second_connector_under_a_taken_name_is_refused():
    assert registry.register(PROBE) is PROBE
    with pytest.raises(DuplicateFormatError, match="two formats claim the name") as info:
        registry.register(replace(PROBE, description="another"))
    assert isinstance(info.value, DuplicateNameError)
    assert registry.get("test_registry_probe_v1").description == "test"


def test_connector_names_are_versioned():
    with pytest.raises(FormatNameError, match="is not versioned"):
        registry.register(replace(PROBE, name="test_registry_probe"))
    with pytest.raises(FormatNameError, match="its name says 1"):
        registry.register(replace(PROBE, name="test_registry_other_v1", version="2"))


def test_options_still_parse_through_the_connector():
    assert registry.get("test_registry_probe_v1").parse_options({"limit": "5"}) == _Options(5)
    with pytest.raises(registry.ConnectorOptionError, match="unknown option 'limt'"):
        PROBE.parse_options({"limt": "5"})
