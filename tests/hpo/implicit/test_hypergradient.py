"""hpo.implicit.hypergradient against exact hypergradients (ridge closed form, logistic regression by Newton)."""

from __future__ import annotations

import statistics
import warnings

import pytest
import torch

from hpo.implicit import HypergradientDivergenceError, hypergradient
from hpo.implicit._hypergradient import compute
from hpo.implicit._problems import PenaltyProblem, make_problem, penalties

KINDS = ("ridge", "logistic")
SEEDS = range(5)


class Case:
    """A problem at its exact minimiser, with everything a reference formula needs (float64)."""

    def __init__(self, kind: str, spread: bool, seed: int) -> None:
        self.problem: PenaltyProblem = make_problem(kind, seed)
        self.theta0 = penalties(self.problem, spread, seed)
        self.w_star = self.problem.solve(self.theta0)
        self.exact = self.problem.exact_hypergradient(self.theta0, self.w_star)
        self.hessian = self.problem.hessian(self.w_star, self.theta0)
        self.lambda_max = float(torch.linalg.eigvalsh(self.hessian)[-1])
        self.w = self.w_star.clone().requires_grad_()
        self.theta = self.theta0.clone().requires_grad_()

    def outer(self) -> torch.Tensor:
        return self.problem.val_loss(self.w)

    def inner(self) -> torch.Tensor:
        return self.problem.inner_loss(self.w, self.theta)

    def grad(self, **options: object) -> torch.Tensor:
        (g,) = hypergradient(self.outer, self.inner, [self.w], [self.theta], **options)
        return g

    def neumann_reference(self, terms: int, alpha: float) -> torch.Tensor:
        """The paper's series ``alpha sum_{j=0..i} (I - alpha H)^j v`` with dense matrices, then the mixed term."""
        w = self.w_star.clone().requires_grad_()
        (v,) = torch.autograd.grad(self.problem.val_loss(w), w)
        step = torch.eye(len(v), dtype=v.dtype) - alpha * self.hessian
        term, total = v.clone(), v.clone()
        for _ in range(terms):
            term = step @ term
            total = total + term
        return -(torch.exp(self.theta0) * self.w_star) * (alpha * total)


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return [Case(kind, spread, seed) for kind in KINDS for spread in (False, True) for seed in SEEDS]


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.reshape(-1), b.reshape(-1), dim=0))


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_ridge_problem_has_more_features_than_training_points() -> None:
    problem = make_problem("ridge", 0)
    assert problem.dim > problem.x_train.shape[0]


@pytest.mark.parametrize("terms", [0, 1, 5, 20])
def test_neumann_matches_the_series_formula(cases: list[Case], terms: int) -> None:
    for case in cases[::3]:
        alpha = 1.0 / case.lambda_max
        got = case.grad(method="neumann", terms=terms, alpha=alpha)
        assert _rel(got, case.neumann_reference(terms, alpha)) < 1e-4


def test_neumann_20_cosine_to_exact(cases: list[Case]) -> None:
    cosines = [_cosine(c.grad(method="neumann", terms=20, alpha=1.0 / c.lambda_max), c.exact) for c in cases]
    assert statistics.median(cosines) >= 0.98
    assert min(cosines) >= 0.55


def test_cg_20_cosine_to_exact(cases: list[Case]) -> None:
    cosines = [_cosine(c.grad(method="cg", max_iter=20, tol=0.0), c.exact) for c in cases]
    assert statistics.median(cosines) >= 0.999
    assert min(cosines) >= 0.95


def test_cg_beats_neumann_at_equal_hvp_count(cases: list[Case]) -> None:
    """The measurement behind the default method: CG-k against Neumann-k with alpha = 1/lambda_max."""
    wins = 0
    for c in cases:
        cg = _cosine(c.grad(method="cg", max_iter=10, tol=0.0), c.exact)
        ns = _cosine(c.grad(method="neumann", terms=10, alpha=1.0 / c.lambda_max), c.exact)
        wins += cg >= ns
    assert wins >= len(cases) - 1


def test_exact_matches_to_1e6(cases: list[Case]) -> None:
    for case in cases:
        assert _rel(case.grad(method="exact"), case.exact) < 1e-6


def test_alpha_guard_fires_above_two_over_lambda_max(cases: list[Case]) -> None:
    for case in cases[::2]:
        with pytest.raises(ValueError, match="alpha=.* exceeds 2/lambda_max"):
            case.grad(method="neumann", terms=5, alpha=2.1 / case.lambda_max)
        case.grad(method="neumann", terms=5, alpha=1.9 / case.lambda_max)  # below the bound: no error


def test_alpha_none_picks_one_over_lambda_max(cases: list[Case]) -> None:
    for case in cases[::4]:
        _, info = compute(
            case.outer,
            case.inner,
            [case.w],
            [case.theta],
            method="neumann",
            terms=3,
            alpha=None,
            max_iter=1,
            tol=0.0,
            damping=0.0,
            on_divergence="raise",
            check_alpha=True,
            lanczos_iters=10,
            max_exact_params=10,
        )
        assert info.alpha == pytest.approx(1.0 / case.lambda_max, rel=0.02)
        assert info.alpha >= 1.0 / case.lambda_max * (1 - 1e-9)  # Ritz values never exceed lambda_max
        assert info.n_hvp == 10 + 3


def test_divergence_is_detected(cases: list[Case]) -> None:
    case = cases[0]
    alpha = 2.5 / case.lambda_max
    with pytest.raises(HypergradientDivergenceError, match="Neumann series diverged"):
        case.grad(method="neumann", terms=30, alpha=alpha, check_alpha=False)
    with pytest.warns(RuntimeWarning, match="diverged"):
        got = case.grad(method="neumann", terms=30, alpha=alpha, check_alpha=False, on_divergence="truncate")
    assert torch.isfinite(got).all()


def _indefinite_problem() -> tuple[torch.Tensor, torch.Tensor, object, object]:
    """``L_T = w^T A w / 2 + lam^T w`` with one negative eigenvalue of ``A``: a saddle, not a minimum."""
    gen = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64, generator=gen))
    a = q @ torch.diag(torch.tensor([-1.0, 0.5, 1.0, 2.0, 3.0, 4.0], dtype=torch.float64)) @ q.T
    w = torch.randn(6, dtype=torch.float64, generator=gen).requires_grad_()
    lam = torch.ones(6, dtype=torch.float64, requires_grad=True)
    return w, lam, (lambda: 0.5 * w @ a @ w + (lam * w).sum()), (lambda: w.sum())


def test_cg_detects_negative_curvature_and_damping_cures_it() -> None:
    w, lam, inner, outer = _indefinite_problem()
    with pytest.raises(HypergradientDivergenceError, match="non-positive curvature"):
        hypergradient(outer, inner, [w], [lam], method="cg", max_iter=6, tol=0.0)
    (g,) = hypergradient(outer, inner, [w], [lam], method="cg", max_iter=6, tol=0.0, damping=2.0)
    assert torch.isfinite(g).all()


def test_neumann_alpha_none_rejects_a_hessian_without_positive_curvature() -> None:
    w = torch.ones(3, dtype=torch.float64, requires_grad=True)
    lam = torch.ones(3, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match="no positive curvature"):
        hypergradient(lambda: w.sum(), lambda: -(w * w).sum() + (lam * w).sum(), [w], [lam], method="neumann")


def test_direct_term_has_the_right_sign(cases: list[Case]) -> None:
    case = cases[1]
    c = 0.3
    (got,) = hypergradient(
        lambda: case.outer() + 0.5 * c * (case.theta * case.theta).sum(),
        case.inner,
        [case.w],
        [case.theta],
        method="exact",
    )
    assert _rel(got, case.exact + c * case.theta0) < 1e-6


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("method", ["cg", "neumann", "identity", "exact"])
def test_shapes_dtypes_and_unused_hparams(dtype: torch.dtype, method: str) -> None:
    gen = torch.Generator().manual_seed(0)
    w1 = torch.randn(4, 3, dtype=dtype, generator=gen).requires_grad_()
    w2 = torch.randn(3, dtype=dtype, generator=gen).requires_grad_()
    decay = torch.zeros(4, 3, dtype=dtype, requires_grad=True)  # log weight decay per weight
    scale = torch.tensor(0.0, dtype=dtype, requires_grad=True)  # scalar hyperparameter
    unused = torch.zeros(2, 5, dtype=dtype, requires_grad=True)
    x = torch.randn(8, 4, dtype=dtype, generator=gen)

    def inner() -> torch.Tensor:
        reg = (torch.exp(decay) * w1 * w1).sum() + torch.exp(scale) * (w2 * w2).sum()
        return (torch.tanh(x @ w1) @ w2 - 1.0).pow(2).mean() + reg

    def outer() -> torch.Tensor:
        return (torch.tanh(x @ w1) @ w2).pow(2).mean()

    grads = hypergradient(outer, inner, [w1, w2], [decay, scale, unused], method=method, damping=100.0)
    assert isinstance(grads, list) and len(grads) == 3
    for g, h in zip(grads, [decay, scale, unused], strict=True):
        assert g.shape == h.shape and g.dtype == h.dtype and not g.requires_grad
    assert torch.count_nonzero(grads[2]) == 0
    assert torch.count_nonzero(grads[0]) > 0


def test_hvp_counts_are_as_documented(cases: list[Case]) -> None:
    case = cases[0]
    common = dict(
        tol=0.0,
        damping=0.0,
        on_divergence="raise",
        lanczos_iters=7,
        max_exact_params=4096,
        alpha=None,
        terms=4,
    )
    _, info = compute(
        case.outer, case.inner, [case.w], [case.theta], method="cg", max_iter=6, check_alpha=True, **common
    )
    assert info.n_hvp == 6
    common["alpha"] = 0.5 / case.lambda_max
    _, info = compute(
        case.outer,
        case.inner,
        [case.w],
        [case.theta],
        method="neumann",
        max_iter=1,
        check_alpha=False,
        **common,
    )
    assert info.n_hvp == 4
    _, info = compute(
        case.outer,
        case.inner,
        [case.w],
        [case.theta],
        method="identity",
        max_iter=1,
        check_alpha=True,
        **common,
    )
    assert info.n_hvp == 0


def test_exact_refuses_large_problems() -> None:
    w = torch.zeros(5000, requires_grad=True)
    lam = torch.zeros(5000, requires_grad=True)
    with pytest.raises(
        ValueError, match=r"method='exact' would build a dense 5000 x 5000 Hessian.*max_exact_params"
    ):
        hypergradient(lambda: w.sum(), lambda: (torch.exp(lam) * w * w).sum(), [w], [lam], method="exact")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"method": "foo"}, r"method='foo' is not one of \('cg', 'neumann', 'identity', 'exact'\)"),
        ({"terms": -1}, "terms=-1 must be an integer >= 0"),
        ({"max_iter": 0}, "max_iter=0 must be an integer >= 1"),
        ({"alpha": 0.0}, "alpha=0.0 must be a positive finite number or None"),
        ({"damping": -1.0}, "damping=-1.0 must be a finite number >= 0"),
        ({"tol": -1.0}, "tol=-1.0 must be >= 0"),
        ({"on_divergence": "ignore"}, "on_divergence='ignore' is not one of"),
    ],
)
def test_bad_options_are_named(options: dict[str, object], message: str) -> None:
    w = torch.zeros(3, requires_grad=True)
    lam = torch.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match=message):
        hypergradient(lambda: w.sum(), lambda: (torch.exp(lam) * w * w).sum(), [w], [lam], **options)


def test_bad_tensors_and_losses_are_named() -> None:
    w = torch.zeros(3, requires_grad=True)
    lam = torch.zeros(3, requires_grad=True)
    inner = lambda: (torch.exp(lam) * w * w).sum()  # noqa: E731
    with pytest.raises(ValueError, match=r"params\[0\] \(shape \(3,\)\) does not require grad"):
        hypergradient(lambda: w.sum(), inner, [w.detach()], [lam])
    with pytest.raises(ValueError, match="hparams is empty"):
        hypergradient(lambda: w.sum(), inner, [w], [])
    with pytest.raises(ValueError, match=r"outer_loss\(\) must return a scalar tensor, got \(3,\)"):
        hypergradient(lambda: w * 2, inner, [w], [lam])


def test_training_graph_is_released() -> None:
    """Every backward pass after the last one would fail if the solver kept the graph (memory O(P + H))."""
    w = torch.ones(3, requires_grad=True)
    lam = torch.zeros(3, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grads = hypergradient(
            lambda: (w - 2).pow(2).sum(), lambda: (torch.exp(lam) * w * w).sum(), [w], [lam], method="cg"
        )
    assert grads[0].grad_fn is None


def test_aliased_and_broadcast_gradients_are_not_overwritten() -> None:
    """Autograd hands ``a`` and ``b`` the same tensor for ``(a + b)``; the solvers update their input in place."""
    a = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    lam = torch.tensor([0.0, 1.0], dtype=torch.float64, requires_grad=True)

    def inner() -> torch.Tensor:
        return 0.5 * (torch.exp(lam) * a * a).sum() + 0.5 * (b * b * torch.tensor([1.0, 3.0])).sum()

    for outer in (lambda: ((a + b) ** 2).sum(), lambda: a.sum() + b.sum()):
        exact = hypergradient(outer, inner, [a, b], [lam], method="exact")[0]
        for method in ("cg", "neumann"):
            (got,) = hypergradient(
                outer, inner, [a, b], [lam], method=method, max_iter=5, terms=200, alpha=0.3
            )
            torch.testing.assert_close(got, exact, rtol=1e-6, atol=1e-9)


def test_hyperparameters_sharing_one_gradient_tensor() -> None:
    """``lam1 + lam2`` makes autograd return one tensor for both mixed terms; each must be negated once."""
    w = torch.tensor([1.0, -1.0], dtype=torch.float64, requires_grad=True)
    lam1 = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    lam2 = torch.zeros(2, dtype=torch.float64, requires_grad=True)

    def inner() -> torch.Tensor:
        return 0.5 * (w * w).sum() + ((lam1 + lam2) * w).sum()

    g1, g2 = hypergradient(lambda: (w * w).sum(), inner, [w], [lam1, lam2], method="exact")
    torch.testing.assert_close(g1, g2)
    torch.testing.assert_close(g1, -2.0 * w.detach())  # w* = -(lam1 + lam2): dL_V/dlam = 2 w * (-1)
