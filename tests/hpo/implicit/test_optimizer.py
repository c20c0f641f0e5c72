"""hpo.implicit.HyperOptimizer: the hyper-step of the alternating schedule and its safeguards."""

from __future__ import annotations

import statistics

import pytest
import torch

from hpo.implicit import HypergradientDivergenceError, HyperOptimizer, hypergradient
from hpo.implicit._problems import best_shared_penalty, make_problem, tune_alternating, tune_exact


def _alternating(kind: str, *, hyper_steps: int, **options: object) -> tuple[float, float, HyperOptimizer]:
    """Alg. 1 on a reference problem; returns (val loss before, val loss after at w*(theta), the optimiser)."""
    problem = make_problem(kind, 0)
    theta0 = torch.full((problem.dim,), -1.0, dtype=torch.float64)
    theta, _, hyper = tune_alternating(problem, theta0, hyper_steps=hyper_steps, **options)
    assert isinstance(hyper, HyperOptimizer)
    before = float(problem.val_loss(problem.solve(theta0)))
    return before, float(problem.val_loss(problem.solve(theta))), hyper


@pytest.mark.parametrize("kind", ["ridge", "logistic"])
def test_alternating_schedule_lowers_validation_loss(kind: str) -> None:
    before, after, hyper = _alternating(kind, hyper_steps=40)
    assert after < 0.8 * before
    assert hyper.n_steps == 40 and hyper.n_skipped == 0
    assert hyper.last_info is not None and hyper.last_info.method == "cg"


def test_neumann_reuses_the_lambda_max_estimate() -> None:
    _, _, hyper = _alternating(
        "ridge", hyper_steps=3, method="neumann", terms=4, lanczos_iters=6, lambda_max_every=10
    )
    assert hyper.last_info is not None
    assert hyper.last_info.n_hvp == 4  # steps 2 and 3 reuse the estimate of step 1
    assert hyper.last_info.lambda_min is None  # no new Lanczos run
    assert hyper.last_info.alpha == pytest.approx(1.0 / hyper.last_info.lambda_max)


def _quadratic() -> tuple[torch.Tensor, torch.Tensor, object, object]:
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    lam = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([0.3, 0.1, -0.2], dtype=torch.float64)
    return w, lam, (lambda: (w - target).pow(2).sum()), (lambda: 0.5 * (torch.exp(lam) * w * w).sum())


def test_step_writes_grad_and_steps_the_optimizer() -> None:
    w, lam, outer, inner = _quadratic()
    expected = hypergradient(outer, inner, [w], [lam], method="exact")
    hyper = HyperOptimizer([lam], torch.optim.SGD([lam], lr=0.1), method="exact")
    grads = hyper.step(outer, inner, [w])
    assert grads is not None
    torch.testing.assert_close(grads[0], expected[0])
    torch.testing.assert_close(lam.grad, expected[0])
    torch.testing.assert_close(lam.detach(), -0.1 * expected[0])


def test_clip_norm_bounds_the_hypergradient() -> None:
    w, lam, outer, inner = _quadratic()
    raw = hypergradient(outer, inner, [w], [lam], method="exact")[0]
    hyper = HyperOptimizer(
        [lam], torch.optim.SGD([lam], lr=0.1), method="exact", clip_norm=0.1 * float(raw.norm())
    )
    (clipped,) = hyper.step(outer, inner, [w])
    assert float(clipped.norm()) == pytest.approx(0.1 * float(raw.norm()))
    assert torch.nn.functional.cosine_similarity(clipped, raw, dim=0) > 0.9999


def _diverging() -> tuple[torch.Tensor, torch.Tensor, object, object]:
    w = torch.ones(3, dtype=torch.float64, requires_grad=True)
    lam = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    curv = torch.tensor([-1.0, 1.0, 2.0], dtype=torch.float64)  # indefinite: not at a minimum
    return w, lam, (lambda: w.sum()), (lambda: 0.5 * (curv * w * w).sum() + (torch.exp(lam) * w).sum())


def test_divergence_policies() -> None:
    w, lam, outer, inner = _diverging()
    hyper = HyperOptimizer([lam], torch.optim.SGD([lam], lr=0.1), on_divergence="skip", max_iter=5, tol=0.0)
    with pytest.warns(RuntimeWarning, match="hyper-step 1 skipped.*non-positive curvature"):
        assert hyper.step(outer, inner, [w]) is None
    assert hyper.n_skipped == 1 and lam.grad is None
    hyper = HyperOptimizer([lam], torch.optim.SGD([lam], lr=0.1), on_divergence="raise", max_iter=5)
    with pytest.raises(HypergradientDivergenceError):
        hyper.step(outer, inner, [w])
    hyper = HyperOptimizer([lam], torch.optim.SGD([lam], lr=0.1), max_iter=5)  # default: truncate
    with pytest.warns(RuntimeWarning, match="using the iterate reached before it"):
        assert hyper.step(outer, inner, [w]) is not None
    hyper = HyperOptimizer([lam], torch.optim.SGD([lam], lr=0.1), max_iter=5, damping=3.0)  # damping cures it
    assert hyper.step(outer, inner, [w]) is not None and hyper.last_info is not None
    assert not hyper.last_info.diverged


def test_constructor_validates_its_arguments() -> None:
    lam = torch.zeros(3, requires_grad=True)
    other = torch.zeros(3, requires_grad=True)
    opt = torch.optim.SGD([lam], lr=0.1)
    with pytest.raises(
        ValueError, match=r"hparams\[0\] \(shape \(3,\)\) is not among optimizer's parameters"
    ):
        HyperOptimizer([other], opt)
    with pytest.raises(ValueError, match="method='newton' is not one of"):
        HyperOptimizer([lam], opt, method="newton")
    with pytest.raises(ValueError, match="on_divergence='ignore' is not one of"):
        HyperOptimizer([lam], opt, on_divergence="ignore")
    with pytest.raises(ValueError, match="clip_norm=0 must be a positive finite number or None"):
        HyperOptimizer([lam], opt, clip_norm=0)
    with pytest.raises(ValueError, match="lambda_max_every=0 must be an integer >= 1"):
        HyperOptimizer([lam], opt, lambda_max_every=0)
    with pytest.raises(ValueError, match="optimizer must be a torch.optim.Optimizer"):
        HyperOptimizer([lam], "adam")  # type: ignore[arg-type]


@pytest.mark.slow
def test_tuning_outcome_captures_the_exact_improvement() -> None:
    """Issue 5's tuning target, as in benchmarks/implicit_tuning.py: median capture >= 65 %, each >= 40 %."""
    captures = []
    for kind in ("ridge", "logistic"):
        for seed in range(5):
            problem = make_problem(kind, seed)
            l_shared, t_shared = best_shared_penalty(problem)
            theta0 = torch.full((problem.dim,), t_shared, dtype=torch.float64)
            l_exact = float(problem.val_loss(problem.solve(tune_exact(problem, theta0, steps=200, lr=0.05))))
            theta, _, _ = tune_alternating(problem, theta0, hyper_steps=200)
            l_alt = float(problem.val_loss(problem.solve(theta)))
            captures.append((l_shared - l_alt) / (l_shared - l_exact))
    assert statistics.median(captures) >= 0.65
    assert min(captures) >= 0.40


def test_non_finite_hypergradients_are_never_applied() -> None:
    w = torch.ones(2, dtype=torch.float64, requires_grad=True)
    lam = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    hyper = HyperOptimizer([lam], torch.optim.SGD([lam], lr=0.1), method="identity", on_divergence="raise")
    with pytest.warns(RuntimeWarning, match="hyper-step 1 skipped: non-finite hypergradient"):
        assert hyper.step(lambda: w.sum() * float("nan"), lambda: (torch.exp(lam) * w * w).sum(), [w]) is None
    assert hyper.n_skipped == 1 and torch.count_nonzero(lam) == 0


def test_hvps_are_counted() -> None:
    w, lam, outer, inner = _quadratic()
    with torch.no_grad():
        lam.copy_(torch.tensor([0.0, 1.0, 2.0]))  # distinct curvatures: CG needs all its iterations
    hyper = HyperOptimizer([lam], torch.optim.SGD([lam], lr=0.1), max_iter=2, tol=0.0)
    hyper.step(outer, inner, [w])
    hyper.step(outer, inner, [w])
    assert hyper.n_hvp == 4
