"""`govcat run`'s stats["timings"]: seconds per step, added to what a resumed run's earlier
attempts recorded (bench/scale_costs.py reads them)."""

from __future__ import annotations

import pytest

from catalog.services.process import _prior_timings, _rounded, _Run


def _run_with(recorded) -> _Run:
    run = _Run.__new__(_Run)  # only the timing state: no catalog needed
    run.timings = _prior_timings(recorded)
    return run


def test_a_resumed_run_adds_its_seconds_to_what_was_recorded():
    run = _run_with({"gate_s": 1.0, "admission_s": 2.0,
                     "langid": {"measure_s": 3.0, "decide_s": 0.5}})
    for step, part in (("admission", ""), ("langid", "measure_s"), ("quality", "decide_s")):
        with run._timed(step, part):
            pass
    t = _rounded(run.timings)
    assert t["gate_s"] == 1.0 and 2.0 <= t["admission_s"] < 3.0
    assert 3.0 <= t["langid"]["measure_s"] < 4.0 and t["langid"]["decide_s"] == 0.5
    assert t["quality"]["measure_s"] == 0.0 and 0.0 <= t["quality"]["decide_s"] < 1.0


def test_time_spent_in_a_failing_step_is_kept():
    run = _run_with(None)
    with pytest.raises(RuntimeError), run._timed("dedup", "measure_s"):
        raise RuntimeError("killed")
    assert set(run.timings) == {"dedup"} and run.timings["dedup"]["measure_s"] >= 0.0


def test_a_malformed_record_starts_from_nothing():
    assert _prior_timings("junk") == {}
    assert _prior_timings({"admission_s": "x", "pii": {"measure_s": None}}) == {
        "pii": {"measure_s": 0.0, "decide_s": 0.0}}
