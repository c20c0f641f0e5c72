"""GO-UCB surrogate: confidence-set algebra, the posterior contract, seeding, and a realizable search."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from surrogates import NotFittedError, make_surrogate
from surrogates.goucb import GOUCBSurrogate, default_startup_trials, sherman_morrison_update

SMALL = {"hidden": (8, 8), "n_ensemble": 2, "max_epochs": 200, "min_epochs": 50, "patience": 50}


def _data(n: int = 30, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    return X, np.sin(4.0 * X[:, 0]) + (X[:, 1:] ** 2).sum(1)


def test_sherman_morrison_matches_direct_inverse() -> None:
    rng = np.random.default_rng(1)
    G = rng.normal(size=(25, 12))
    lam = 0.3
    direct = np.linalg.inv(lam * np.eye(12) + G.T @ G)
    np.testing.assert_allclose(sherman_morrison_update(np.eye(12) / lam, G), direct, rtol=1e-9, atol=1e-12)
    # in two batches (the fantasies path) and on torch tensors
    A = sherman_morrison_update(torch.eye(12, dtype=torch.float64) / lam, torch.as_tensor(G[:10]))
    A = sherman_morrison_update(A, torch.as_tensor(G[10:]))
    np.testing.assert_allclose(A.numpy(), direct, rtol=1e-9, atol=1e-12)


def _force(model: GOUCBSurrogate, dual: bool) -> GOUCBSurrogate:
    """Rebuild the confidence set in the primal (Sherman-Morrison) or the dual (Woodbury) form."""
    model._n_features = (lambda: 10**9) if dual else (lambda: 0)
    model._set_confidence_set(model.sig_, getattr(model, "resid_", torch.zeros(0, dtype=torch.float64)))
    assert model.dual_ is dual
    return model


@pytest.mark.parametrize("features", ["full", "last_layer"])
def test_primal_and_dual_forms_agree(features: str) -> None:
    X, y = _data()
    model = GOUCBSurrogate(seed=0, features=features, **SMALL).fit(X, y)
    Xq = np.random.default_rng(2).random((9, 3))
    a = _force(model, dual=False).posterior(Xq)
    b = _force(model, dual=True).posterior(Xq)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-8)
    np.testing.assert_allclose(a.std, b.std, rtol=1e-6)
    # and both equal the width from the explicit gradients and a direct inverse
    with torch.no_grad():
        _, acts, deltas = model._forward(model.params_, torch.as_tensor(X), signals=True)
        G = model._flat_grads((acts, deltas)).numpy()
        _, acts, deltas = model._forward(model.params_, torch.as_tensor(Xq), signals=True)
        Gq = model._flat_grads((acts, deltas)).numpy()
    c = np.mean((G * G).sum(1))
    lam_abs = model.lam * c
    S_inv = np.linalg.inv(lam_abs * np.eye(G.shape[1]) + G.T @ G)
    width = np.sqrt(lam_abs / c * np.einsum("ij,jk,ik->i", Gq, S_inv, Gq)) * model.y_std_
    np.testing.assert_allclose(a.std, width, rtol=1e-6)


def test_width_shrinks_where_data_are_dense() -> None:
    rng = np.random.default_rng(3)
    dense = 0.1 + 0.1 * rng.random((40, 2))  # a crowd in [0.1, 0.2]^2
    sparse = rng.random((6, 2))
    X = np.concatenate([dense, sparse])
    y = np.sin(3.0 * X[:, 0]) + X[:, 1]
    model = GOUCBSurrogate(seed=0, **SMALL).fit(X, y)
    inside = model.posterior(0.1 + 0.1 * rng.random((50, 2))).std
    far = model.posterior(0.7 + 0.3 * rng.random((50, 2))).std
    assert np.median(inside) < 0.5 * np.median(far)


@pytest.mark.parametrize("features", ["full", "last_layer"])
def test_fantasies_shrink_width_without_moving_the_mean(features: str) -> None:
    X, y = _data(n=20)
    model = GOUCBSurrogate(seed=0, features=features, **SMALL).fit(X, y)
    Xp = np.array([[0.9, 0.9, 0.9], [0.05, 0.95, 0.5]])
    before = model.posterior(Xp)
    fant = model.with_fantasies(Xp, before.mean)
    after = fant.posterior(Xp)
    np.testing.assert_allclose(after.mean, before.mean, rtol=1e-8, atol=1e-10)
    assert np.all(after.std < (0.8 if features == "full" else 0.95) * before.std)
    # the original model is untouched
    assert fant is not model and model.posterior(Xp).std[0] == pytest.approx(before.std[0])
    # a believed value away from the mean pulls the mean towards it (one Gauss-Newton step)
    moved = model.with_fantasies(Xp[:1], before.mean[:1] - 1.0).posterior(Xp[:1]).mean
    assert moved[0] < before.mean[0] - 0.3
    # two single fantasies equal one double fantasy (rank-one updates compose)
    two = model.with_fantasies(Xp[:1], before.mean[:1]).with_fantasies(Xp[1:], before.mean[1:])
    np.testing.assert_allclose(two.posterior(Xp).std, after.std, rtol=1e-6)


def test_posterior_contract() -> None:
    X, y = _data()
    model = make_surrogate("goucb", seed=0)
    assert isinstance(model, GOUCBSurrogate)
    with pytest.raises(NotFittedError):
        model.posterior(X)
    assert model.fit(X, y) is model
    post = model.posterior(np.random.default_rng(5).random((11, 3)))
    assert post.mean.shape == post.std.shape == post.width.shape == (11,)
    assert np.all(np.isfinite(post.mean)) and np.all(post.std > 0)
    assert np.all(post.lower(4.0) <= post.mean) and np.all(post.mean <= post.upper(4.0))
    assert np.all(post.quantile(0.1) < post.quantile(0.9))
    assert post.sample(4, np.random.default_rng(0)).shape == (4, 11)
    with pytest.raises(ValueError, match="columns"):
        model.posterior(np.zeros((2, 5)))
    assert model.get_params()["hidden"] == (32, 32)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("hidden", ()),
        ("n_ensemble", 0),
        ("lam", 0.0),
        ("holdout", 1.0),
        ("activation", "relu"),
        ("features", "x"),
        ("inputs", "cubic"),
    ],
)
def test_bad_options_are_named(option: str, value: object) -> None:
    X, y = _data(n=5)
    with pytest.raises(ValueError, match=option):
        GOUCBSurrogate(**{option: value}).fit(X, y)


def test_seeding_is_local_and_reproducible() -> None:
    X, y = _data()
    Xq = np.random.default_rng(6).random((7, 3))
    torch.manual_seed(123)
    state = torch.get_rng_state()
    threads = torch.get_num_threads()
    a = GOUCBSurrogate(seed=4, **SMALL).fit(X, y).posterior(Xq)
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is untouched
    assert torch.get_num_threads() == threads
    torch.manual_seed(999)  # the global seed has no influence
    b = GOUCBSurrogate(seed=4, **SMALL).fit(X, y).posterior(Xq)
    c = GOUCBSurrogate(seed=5, **SMALL).fit(X, y).posterior(Xq)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.std, b.std)
    assert not np.allclose(a.mean, c.mean)


def test_default_startup_trials_grows_like_sqrt_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_startup_trials(5) == default_startup_trials(40) == 10  # assumed budget 100
    assert default_startup_trials(5, budget=400) == 20 < default_startup_trials(5, budget=900) == 30
    with pytest.raises(ValueError, match="budget"):
        default_startup_trials(5, budget=0)

    from hpo.scheduler import Proposer

    assert Proposer(surrogate="goucb").startup_trials(40) == 10
    # the Proposer asks the surrogate class when n_startup_trials is unset
    monkeypatch.setattr(GOUCBSurrogate, "default_startup_trials", staticmethod(lambda dim, budget=None: 17))
    assert Proposer(surrogate="goucb").startup_trials(3) == 17
    assert Proposer(surrogate="goucb", n_startup_trials=7).startup_trials(40) == 7
    assert Proposer(surrogate="gp").startup_trials(40) == 10


def _random_network(d: int, seed: int):
    """A target inside the surrogate's own model class: one member of the default hidden layers with random weights.

    It reads the coordinates only (``inputs="linear"``); the default network, which also reads their squares,
    contains it (zero weights on the squares), so the problem stays realizable.
    """
    net = GOUCBSurrogate(n_ensemble=1, seed=seed, inputs="linear")
    params = net._init_params(d, torch.Generator().manual_seed(seed))
    params = [3.0 * p.detach() for p in params]  # larger weights: a non-trivial landscape

    def f(X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net._forward(params, torch.as_tensor(np.atleast_2d(X), dtype=torch.float64))[0].numpy()

    return f


def test_realizable_search_gets_close_to_the_optimum() -> None:
    from scipy.optimize import minimize

    from hpo.history import Dataset
    from hpo.scheduler import Proposer
    from hpo.space import Float, SearchSpace

    d = 3
    f = _random_network(d, seed=7)
    grid = np.random.default_rng(0).random((20000, d))
    vals = f(grid)
    starts = grid[np.argsort(vals)[:10]]
    opt = min(
        minimize(lambda x: float(f(x)[0]), s, bounds=[(0, 1)] * d, method="L-BFGS-B").fun for s in starts
    )
    ref = float(np.median(vals))
    space = SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(d)})
    proposer = Proposer(surrogate="goucb", n_startup_trials=8, n_raw=256, n_restarts=4)
    X = np.zeros((0, d))
    for t in range(30):
        data = Dataset(
            X=X, Y=f(X)[:, None], G=np.zeros((len(X), 0)), constraint_names=(), X_pending=np.zeros((0, d))
        )
        cfg = proposer.propose(data, space, seed=0, trial_number=t)
        X = np.concatenate([X, space.encode([cfg])])
    regret = (f(X).min() - opt) / (ref - opt)
    assert regret < 0.02, regret


@pytest.mark.parametrize("inputs", ["quadratic", "linear"])
@pytest.mark.parametrize(("hidden", "activation"), [((6, 5), "silu"), ((7,), "tanh"), ((4, 6, 5), "silu")])
def test_hand_written_training_step_matches_autograd_adamw(
    hidden: tuple[int, ...], activation: str, inputs: str
) -> None:
    """The training loop's own backward pass and AdamW give what autograd and ``torch.optim.AdamW`` give."""
    X, y = _data(n=7, d=3)  # fewer than 8 points: nothing held out, every point trains every member
    opts = {
        "activation": activation,
        "hidden": hidden,
        "n_ensemble": 3,
        "max_epochs": 4,
        "min_epochs": 10,
        "lr": 0.05,
        "weight_decay": 0.1,
        "inputs": inputs,
    }
    model = GOUCBSurrogate(seed=2, **opts).fit(X, y)
    assert model.best_step_.tolist() == [4, 4, 4]  # no held-out read before min_epochs: last weights kept

    gen = torch.Generator().manual_seed(int(np.random.SeedSequence(2).generate_state(1)[0]))
    params = model._init_params(model._n_inputs(3), gen)
    init = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=0.05, weight_decay=0.1)
    Xt = torch.as_tensor(X)
    z = torch.as_tensor((y - y.mean()) / y.std())
    for _ in range(4):
        opt.zero_grad()
        ((model._forward(params, Xt) - z) ** 2).mean(1).sum().backward()
        opt.step()
    assert not torch.allclose(init[0], params[0].detach(), atol=1e-3)  # the weights did move
    for mine, ref in zip(model.params_, params, strict=True):
        assert mine.dtype == torch.float64 and mine.shape == ref.shape
        np.testing.assert_allclose(mine.numpy(), ref.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_quadratic_inputs_let_the_mean_bend_between_the_data() -> None:
    """Why ``inputs="quadratic"`` is the default: from 40 points of a 10-D bowl, the network on the coordinates and
    their squares predicts the bowl's unseen bottom below every observation; on the coordinates alone it is nearly
    linear and does not."""
    rng = np.random.default_rng(0)
    d = 10
    centre = 0.3 + 0.4 * rng.random(d)
    X = rng.random((40, d))
    y = ((X - centre) ** 2).sum(1)
    Q = rng.random((500, d))
    truth = ((Q - centre) ** 2).sum(1)
    corr = {}
    for inputs in ("quadratic", "linear"):
        model = GOUCBSurrogate(seed=0, inputs=inputs).fit(X, y)
        corr[inputs] = np.corrcoef(model.posterior(Q).mean, truth)[0, 1]
        bottom = model.posterior(centre[None]).mean[0]
        if inputs == "quadratic":
            assert bottom < 0.6 * y.min(), (bottom, y.min())
    assert corr["quadratic"] > 0.95 and corr["linear"] < corr["quadratic"] - 0.1, corr
