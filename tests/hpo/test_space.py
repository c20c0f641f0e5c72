from __future__ import annotations

import math

import numpy as np
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

import hpo
from hpo.space import SearchSpace


def _space() -> SearchSpace:
    return SearchSpace(
        {
            "lr": hpo.Float(1e-5, 1e-1, log=True),
            "x": hpo.Float(-2.0, 3.0),
            "q": hpo.Float(0.0, 1.0, step=0.25),
            "layers": hpo.Int(1, 4),
            "units": hpo.Int(8, 512, log=True),
            "even": hpo.Int(0, 10, step=2),
            "act": hpo.Categorical(["relu", "tanh", None]),
        }
    )


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: hpo.Float(1, 0), r"Float\(low=1, high=0\): low must be < high"),
        (lambda: hpo.Float(0, 1, log=True), "low must be > 0 on a log scale"),
        (lambda: hpo.Float(0, 1, step=0), "step must be > 0"),
        (lambda: hpo.Float(1, 2, log=True, step=0.1), "cannot be combined"),
        (lambda: hpo.Float(float("nan"), 1), "must be finite"),
        (lambda: hpo.Int(3, 1), "low must be <= high"),
        (lambda: hpo.Int(0, 8, log=True), "low must be >= 1"),
        (lambda: hpo.Int(0, 9, step=2), "multiple of step"),
        (lambda: hpo.Categorical([]), "at least one choice"),
        (lambda: hpo.Categorical(["a", "a"]), "unique"),
    ],
)
def test_bad_parameters_raise_with_the_value(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_bad_types_raise():
    with pytest.raises(TypeError, match="must be an integer"):
        hpo.Int(0.5, 3)
    with pytest.raises(TypeError, match="not a string"):
        hpo.Categorical("abc")
    with pytest.raises(TypeError, match=r"space\['a'\]"):
        SearchSpace({"a": (0, 1)})
    with pytest.raises(ValueError, match="at least one parameter"):
        SearchSpace({})


def test_optuna_round_trip():
    sp = _space()
    dists = sp.to_optuna()
    assert dists["lr"] == FloatDistribution(1e-5, 1e-1, log=True)
    assert dists["units"] == IntDistribution(8, 512, log=True)
    assert dists["act"] == CategoricalDistribution(["relu", "tanh", None])
    assert SearchSpace.from_optuna(dists) == sp


def test_encode_is_in_unit_cube_with_log_scale_and_one_hot():
    sp = _space()
    assert sp.dim == 6 + 3
    X = sp.encode([{"lr": 1e-3, "x": 0.5, "q": 0.5, "layers": 1, "units": 64, "even": 4, "act": None}])
    assert X.shape == (1, 9)
    assert np.all((X >= 0) & (X <= 1))
    assert X[0, 0] == pytest.approx(0.5)  # 1e-3 is the log-midpoint of [1e-5, 1e-1]
    assert X[0, 1] == pytest.approx(0.5)
    np.testing.assert_array_equal(X[0, 6:], [0.0, 0.0, 1.0])


def test_decode_rounds_integers_steps_and_categoricals():
    sp = _space()
    rng = np.random.default_rng(0)
    for cfg in sp.decode(sp.sample(200, rng)):
        assert 1e-5 <= cfg["lr"] <= 1e-1
        assert cfg["q"] in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert isinstance(cfg["layers"], int) and 1 <= cfg["layers"] <= 4
        assert isinstance(cfg["units"], int) and 8 <= cfg["units"] <= 512
        assert cfg["even"] % 2 == 0
        assert cfg["act"] in ("relu", "tanh", None)


def test_every_integer_value_is_reachable_with_equal_share():
    sp = SearchSpace({"k": hpo.Int(1, 4)})
    u = np.linspace(0, 1, 4001)[:, None]
    vals = [c["k"] for c in sp.decode(u)]
    counts = np.bincount(vals)[1:]
    assert np.all(np.abs(counts - 1000) <= 2)


def test_round_encoded_equals_encode_decode():
    sp = _space()
    X = sp.sample(100, np.random.default_rng(1)) + np.random.default_rng(2).normal(0, 0.1, (100, sp.dim))
    np.testing.assert_allclose(sp.round_encoded(X), sp.encode(sp.decode(X)), atol=1e-12)


def test_encode_rejects_out_of_range_and_unknown_choice():
    sp = _space()
    good = {"lr": 1e-3, "x": 0.5, "q": 0.5, "layers": 1, "units": 64, "even": 4, "act": "relu"}
    with pytest.raises(ValueError, match="outside"):
        sp.encode([{**good, "x": 4.0}])
    with pytest.raises(ValueError, match="not one of the choices"):
        sp.encode([{**good, "act": "gelu"}])
    with pytest.raises(KeyError, match="lacks parameter"):
        sp.encode([{k: v for k, v in good.items() if k != "lr"}])
    with pytest.raises(KeyError, match="unknown parameter"):
        sp.validate({**good, "zzz": 1})


def test_neighbours_move_one_step():
    sp = SearchSpace({"k": hpo.Int(1, 5), "c": hpo.Categorical(["a", "b", "c"]), "x": hpo.Float(0, 1)})
    x = sp.encode([{"k": 3, "c": "b", "x": 0.3}])[0]
    nbs = sp.decode(sp.neighbours(x))
    assert {(n["k"], n["c"]) for n in nbs} == {(2, "b"), (4, "b"), (3, "a"), (3, "c")}
    assert all(math.isclose(n["x"], 0.3) for n in nbs)
