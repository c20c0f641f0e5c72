"""Rung arithmetic, bracket assignment and ASHA's stop rule against hand-computed cases (hpo/fidelity.py)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from hpo.fidelity import (
    Fidelity,
    assign_bracket,
    bracket_probabilities,
    crossed_rungs,
    highest_rung_value,
    rung_value,
    should_stop,
    stop_decision,
)


# ------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"min": 0, "max": 9}, "min"),
        ({"min": 1.5, "max": 9}, "min"),
        ({"min": 1, "max": "9"}, "max"),
        ({"min": 3, "max": 2}, "max must be >= min"),
        ({"min": 1, "max": 9, "eta": 1}, "eta"),
        ({"min": 1, "max": 9, "eta": 2.5}, "eta"),
        ({"min": 1, "max": 9, "brackets": 0}, "brackets"),
        ({"min": True, "max": 9}, "min"),
    ],
)
def test_bad_fidelity_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        Fidelity(**kwargs)


def test_integral_floats_are_accepted_and_dict_round_trip_is_json():
    f = Fidelity(1.0, 27.0, eta=3.0)
    assert (f.min, f.max, f.eta) == (1, 27, 3)
    d = json.loads(json.dumps(f.to_dict()))
    assert Fidelity.from_dict(d) == f
    assert Fidelity.coerce({"min": 1, "max": 27, "eta": 3}) == f
    assert Fidelity.coerce(None) is None
    with pytest.raises(ValueError, match="unknown"):
        Fidelity.from_dict({"min": 1, "max": 27, "reduction": 3})
    with pytest.raises(TypeError, match="fidelity"):
        Fidelity.coerce(27)


# ------------------------------------------------------------------------------------------- rungs
@pytest.mark.parametrize(
    ("fid", "rungs"),
    [
        (Fidelity(1, 27, eta=3), (1, 3, 9)),  # 27 is completion, not a rung
        (Fidelity(1, 30, eta=3), (1, 3, 9, 27)),
        (Fidelity(2, 81, eta=3), (2, 6, 18, 54)),
        (Fidelity(1, 16, eta=2), (1, 2, 4, 8)),
        (Fidelity(5, 5), ()),
        (Fidelity(4, 10, eta=4), (4,)),
    ],
)
def test_rung_levels(fid, rungs):
    assert fid.rungs == rungs


def test_brackets_of_hyperband():
    assert Fidelity(1, 27).n_brackets == 1  # plain ASHA unless asked for Hyperband
    f = Fidelity(1, 27, eta=3, brackets=None)
    assert f.n_brackets == 4
    assert [f.bracket_min_resource(b) for b in range(4)] == [1, 3, 9, 27]
    assert [f.bracket_rungs(b) for b in range(4)] == [(1, 3, 9), (3, 9), (9,), ()]
    # Hyperband's trials per bracket for s_max = 3, eta = 3: ceil(4/(s+1) * 3^s) = 27, 12, 6, 4
    np.testing.assert_allclose(bracket_probabilities(f), np.array([27, 12, 6, 4]) / 49)
    assert Fidelity(1, 27, brackets=1).n_brackets == 1
    assert Fidelity(1, 27, brackets=2).n_brackets == 2
    np.testing.assert_allclose(bracket_probabilities(Fidelity(1, 27, brackets=2)), np.array([27, 12]) / 39)
    assert Fidelity(1, 27, brackets=10).n_brackets == 4


def test_bracket_assignment_is_pure_and_follows_the_probabilities():
    f = Fidelity(1, 27, eta=3, brackets=None)
    a = [assign_bracket(f, 7, n) for n in range(3000)]
    assert a == [assign_bracket(f, 7, n) for n in range(3000)]  # pure in (seed, number)
    assert a != [assign_bracket(f, 8, n) for n in range(3000)]
    freq = Counter(a)
    for b, p in enumerate(bracket_probabilities(f)):
        assert abs(freq[b] / 3000 - p) < 0.03
    assert {assign_bracket(Fidelity(1, 27, brackets=1), 7, n) for n in range(50)} == {0}


# ------------------------------------------------------------------------------------------- rung values
def test_rung_value_is_the_first_report_at_or_after_the_rung():
    iv = {1: 0.9, 2: 0.8, 4: 0.5, 10: 0.3}
    assert rung_value(iv, 1) == 0.9
    assert rung_value(iv, 3) == 0.5  # no report at 3: the first after it
    assert rung_value(iv, 9) == 0.3
    assert rung_value(iv, 11) is None
    f = Fidelity(1, 27)
    assert highest_rung_value(iv, f) == (9, 0.3)
    assert highest_rung_value({1: 0.9, 2: 0.8}, f) == (1, 0.9)  # stopped between rungs 1 and 3
    assert highest_rung_value({}, f) is None
    assert highest_rung_value({1: 0.5}, Fidelity(2, 8, eta=2)) is None  # below the first rung


# ------------------------------------------------------------------------------------------- stop rule
@pytest.mark.parametrize(
    ("value", "others", "eta", "stop"),
    [
        (5.0, [], 3, False),  # first at the rung: nothing to be worse than
        (5.0, [4.0], 3, True),  # n=2: k = max(1, floor(2/3)) = 1 -> only the best continues
        (3.0, [4.0], 3, False),
        (4.0, [4.0], 3, False),  # a tie is not "strictly better"
        (3.0, [1.0, 2.0, 4.0], 3, True),  # n=4: k=1; two are better
        (2.0, [1.0, 3.0, 4.0], 3, True),  # second of four: k=1 -> stops
        (1.0, [2.0, 3.0, 4.0], 3, False),
        (0.5, [1.0, 2.0, 3.0, 4.0, 5.0], 3, False),
        (1.5, [1.0, 2.0, 3.0, 4.0, 5.0], 3, False),  # n=6: k=2; second -> continues
        (2.5, [1.0, 2.0, 3.0, 4.0, 5.0], 3, True),  # n=6: k=2; two are better
        (2.5, [1.0, 2.0, 3.0, 4.0, 5.0], 2, False),  # eta=2: k=3
    ],
)
def test_should_stop_hand_cases(value, others, eta, stop):
    assert should_stop(value, others, eta) is stop


def test_crossed_rungs():
    f = Fidelity(1, 27)
    assert crossed_rungs(f, 0, None, 1) == [1]
    assert crossed_rungs(f, 0, 1, 2) == []
    assert crossed_rungs(f, 0, 2, 3) == [3]
    assert crossed_rungs(f, 0, 1, 10) == [3, 9]  # a report can jump several rungs
    assert crossed_rungs(f, 1, None, 1) == []  # bracket 1 is first judged at 3
    assert crossed_rungs(f, 1, 2, 3) == [3]
    assert crossed_rungs(f, 3, 20, 27) == []  # last bracket: never stopped


def test_stop_decision_hand_case():
    """Four trials at rung 1 (values 0.5, 0.2, 0.9, 0.4); rung 3 holds 0.15 so far (eta = 3)."""
    f = Fidelity(1, 27)
    others = [{1: 0.5}, {1: 0.2, 2: 0.18, 3: 0.15}, {1: 0.9}]
    # a new trial at rung 1 with 0.4: n=4, k = max(1, floor(4/3)) = 1; 0.2 is better -> stop
    assert stop_decision(f, bracket=0, own={1: 0.4}, step=1, others=others) is True
    # with 0.1 it is the best of four -> continue
    assert stop_decision(f, bracket=0, own={1: 0.1}, step=1, others=others) is False
    # the same value in bracket 1 is not judged at rung 1
    assert stop_decision(f, bracket=1, own={1: 0.4}, step=1, others=others) is False
    # between rungs nothing is decided
    assert stop_decision(f, bracket=0, own={1: 0.1, 2: 0.9}, step=2, others=others) is False
    # more values at rung 1: 0.4 among {0.5, 0.2, 0.9, 0.3, 0.8} -> n=6, k=2; better: 0.2, 0.3 -> stop
    assert stop_decision(f, bracket=0, own={1: 0.4}, step=1, others=[*others, {1: 0.3}, {1: 0.8}]) is True
    assert stop_decision(f, bracket=0, own={1: 0.25}, step=1, others=[*others, {1: 0.3}, {1: 0.8}]) is False
    # at rung 3: pool {0.15} plus own 0.3 -> n=2, top 1, 0.15 is better -> stop
    assert stop_decision(f, bracket=0, own={1: 0.4, 2: 0.35, 3: 0.3}, step=3, others=others) is True
    assert stop_decision(f, bracket=0, own={1: 0.4, 2: 0.35, 3: 0.1}, step=3, others=others) is False
    # a report that jumps from 1 to 10 is judged at rungs 3 and 9 with its value at 10
    assert stop_decision(f, bracket=0, own={1: 0.1, 10: 5.0}, step=10, others=others) is True
    # at max (27) there is no rung: completion, never a stop
    assert stop_decision(f, bracket=0, own={1: 0.1, 27: 5.0}, step=27, others=others) is False
