from collections import Counter

from policies.engine import Decision
from policies.whatif import compare, diff_verdicts
from tests.policies.test_engine import COMBO, make, row


def _d(effect, *ids):
    return Decision(effect, ids, (), "p", "1", not ids)


def test_compare_and_diff_verdicts():
    a = [_d("allow", "ok"), _d("allow", "ok"), _d("deny", "nc"), _d("deny")]
    b = [_d("deny", "nc"), _d("allow", "ok"), _d("allow", "research"), _d("deny")]
    summary = compare(a, b)
    assert (summary.total, summary.unchanged, summary.changed) == (4, 2, 2)
    assert (summary.newly_blocked, summary.newly_passed) == (1, 1)
    assert summary.transitions == Counter({("allow", "deny"): 1, ("deny", "allow"): 1})
    assert diff_verdicts(zip(a, b, strict=True)) == Counter({
        ("allow", "deny", ("nc",)): 1, ("deny", "allow", ("research",)): 1})


def test_whatif_between_two_real_policies():
    strict = make({"admission": COMBO})
    lenient = make({"admission": COMBO}, combining="allow-overrides")
    rows = [row(tos="no-ai"), row(), row(status="pending", open_=False)]
    summary = compare(strict.decide_many("admission", rows),
                      lenient.decide_many("admission", rows))
    assert summary.changed == 1 and summary.newly_passed == 1
