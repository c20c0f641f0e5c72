"""Reference problems with exact hypergradients: per-feature L2 penalties for ridge and logistic regression.

Used by the tests, ``benchmarks/implicit_tuning.py`` and the examples; not part of the public API.

Shapes: ``X`` is ``(n, d)``, targets ``(n,)``, the weights ``w`` and the log-penalties ``theta`` are ``(d,)``.
Penalties are parametrised as ``lam = exp(theta)`` so that they stay positive under gradient steps, and

    L_T(theta, w) = loss(X_train w, y_train) + 1/2 sum_k exp(theta_k) w_k^2,    L_V(w) = loss(X_val w, y_val)

with ``loss`` the mean squared error / 2 (ridge) or the mean logistic loss (labels in {-1, +1}). At the minimiser
``w*`` the mixed partial is ``d^2 L_T / dw_k dtheta_k = lam_k w*_k`` (diagonal), so the exact hypergradient is

    dL_V/dtheta = -(lam * w*) * H^{-1} grad_w L_V(w*),    H = X^T D X / n + diag(lam)

with ``D = I`` (ridge) or ``D = diag(p (1 - p))`` (logistic). Everything here runs in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

DTYPE = torch.float64


@dataclass
class PenaltyProblem:
    """One train/validation/test split and its loss; exact inner solutions and hypergradients in float64."""

    kind: str  # "ridge" or "logistic"
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def dim(self) -> int:
        return self.x_train.shape[1]

    def data_loss(self, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Mean squared error / 2 or mean logistic loss of the linear model ``x @ w``."""
        z = x @ w
        if self.kind == "ridge":
            return 0.5 * (z - y).pow(2).mean()
        return torch.nn.functional.softplus(-y * z).mean()

    def inner_loss(self, w: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """``L_T``: training loss plus ``1/2 sum exp(theta) w^2``."""
        return self.data_loss(self.x_train, self.y_train, w) + 0.5 * (torch.exp(theta) * w * w).sum()

    def val_loss(self, w: torch.Tensor) -> torch.Tensor:
        return self.data_loss(self.x_val, self.y_val, w)

    def test_loss(self, w: torch.Tensor) -> torch.Tensor:
        return self.data_loss(self.x_test, self.y_test, w)

    def hessian(self, w: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """``H = X^T D X / n + diag(exp(theta))`` at ``w``, ``(d, d)``."""
        x = self.x_train
        if self.kind == "ridge":
            data = x.T @ x / x.shape[0]
        else:
            p = torch.sigmoid(self.y_train * (x @ w))
            data = (x * (p * (1 - p))[:, None]).T @ x / x.shape[0]
        return data + torch.diag(torch.exp(theta))

    def solve(
        self, theta: torch.Tensor, *, w0: torch.Tensor | None = None, tol: float = 1e-13
    ) -> torch.Tensor:
        """The exact minimiser ``w*(theta)``: closed form (ridge) or Newton's method to ``|grad| <= tol``."""
        theta = theta.detach().to(DTYPE)
        x, y = self.x_train, self.y_train
        n = x.shape[0]
        if self.kind == "ridge":
            return torch.linalg.solve(x.T @ x / n + torch.diag(torch.exp(theta)), x.T @ y / n)
        w = torch.zeros(self.dim, dtype=DTYPE) if w0 is None else w0.detach().to(DTYPE).clone()
        lam = torch.exp(theta)
        for _ in range(100):
            p = torch.sigmoid(y * (x @ w))
            grad = -(x.T @ (y * (1 - p))) / n + lam * w
            if float(grad.norm()) <= tol:
                break
            w = w - torch.linalg.solve(
                self.hessian(w, theta), grad
            )  # strongly convex: full Newton steps converge
        return w

    def exact_hypergradient(self, theta: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        """``dL_V/dtheta`` at ``w*(theta)`` (or at a given ``w``) by a dense solve."""
        theta = theta.detach().to(DTYPE)
        w = self.solve(theta) if w is None else w.detach().to(DTYPE)
        wv = w.clone().requires_grad_()
        (gv,) = torch.autograd.grad(self.val_loss(wv), wv)
        return -(torch.exp(theta) * w) * torch.linalg.solve(self.hessian(w, theta), gv)


def make_problem(
    kind: str,
    seed: int,
    *,
    n_train: int | None = None,
    dim: int | None = None,
    n_val: int = 200,
    n_test: int = 1000,
) -> PenaltyProblem:
    """A synthetic problem whose features matter unequally, so per-feature penalties can beat a shared one.

    Ridge has more features than training points (``dim=80 > n_train=40`` by default); logistic has
    ``n_train=100, dim=30``. Feature ``k`` carries signal ``~ exp(-k / 8)`` times a Gaussian, plus pure-noise
    features, with feature scales drawn log-uniformly in [0.5, 2].
    """
    if kind not in ("ridge", "logistic"):
        raise ValueError(f"kind={kind!r} is not one of ('ridge', 'logistic')")
    n_train = n_train or (40 if kind == "ridge" else 100)
    dim = dim or (80 if kind == "ridge" else 30)
    gen = torch.Generator().manual_seed(seed)
    n = n_train + n_val + n_test
    scales = torch.exp(torch.empty(dim, dtype=DTYPE).uniform_(-0.69, 0.69, generator=gen))
    x = torch.randn(n, dim, dtype=DTYPE, generator=gen) * scales
    w_true = torch.randn(dim, dtype=DTYPE, generator=gen) * torch.exp(-torch.arange(dim, dtype=DTYPE) / 8.0)
    w_true = w_true[torch.randperm(dim, generator=gen)] / scales
    z = x @ w_true
    if kind == "ridge":
        y = z + 0.5 * torch.randn(n, dtype=DTYPE, generator=gen)
    else:
        y = torch.where(torch.rand(n, dtype=DTYPE, generator=gen) < torch.sigmoid(2.0 * z), 1.0, -1.0).to(
            DTYPE
        )
    a, b = n_train, n_train + n_val
    return PenaltyProblem(kind, x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:])


def penalties(problem: PenaltyProblem, spread: bool, seed: int, level: float = -1.0) -> torch.Tensor:
    """Log-penalties ``theta``: uniform at ``level`` or spread log-uniformly over ``level +- 2.3`` (a factor 10)."""
    if not spread:
        return torch.full((problem.dim,), level, dtype=DTYPE)
    gen = torch.Generator().manual_seed(10_000 + seed)
    return level + torch.empty(problem.dim, dtype=DTYPE).uniform_(-2.3, 2.3, generator=gen)


def best_shared_penalty(problem: PenaltyProblem, grid: torch.Tensor | None = None) -> tuple[float, float]:
    """Grid search over one shared log-penalty with exact inner solves: ``(best validation loss, best theta)``."""
    grid = torch.linspace(-8.0, 4.0, 49, dtype=DTYPE) if grid is None else grid
    best = (float("inf"), float(grid[0]))
    for t in grid.tolist():
        loss = float(problem.val_loss(problem.solve(torch.full((problem.dim,), t, dtype=DTYPE))))
        if loss < best[0]:
            best = (loss, t)
    return best


def tune_exact(problem: PenaltyProblem, theta0: torch.Tensor, *, steps: int, lr: float) -> torch.Tensor:
    """Adam on ``theta`` with exact hypergradients at exact inner solutions: the reference tuning outcome."""
    theta = theta0.detach().clone().requires_grad_()
    opt = torch.optim.Adam([theta], lr=lr)
    w = None
    for _ in range(steps):
        w = problem.solve(theta, w0=w)
        theta.grad = problem.exact_hypergradient(theta, w)
        opt.step()
    return theta.detach()


def tune_alternating(
    problem: PenaltyProblem,
    theta0: torch.Tensor,
    *,
    hyper_steps: int,
    inner_steps: int = 10,
    lr: float = 0.05,
    **hyper_options: object,
) -> tuple[torch.Tensor, torch.Tensor, object]:
    """The paper's Alg. 1: ``inner_steps`` warm-started gradient steps on ``w``, then one hyper-step.

    The inner step size is ``1/L`` with ``L`` the largest curvature of the data term plus the largest penalty,
    refreshed before each block of inner steps (the penalties move). Returns ``(theta, w, hyper_optimizer)``.
    """
    from hpo.implicit._optimizer import HyperOptimizer  # local: _optimizer imports nothing from here

    theta = theta0.detach().clone().requires_grad_()
    w = torch.zeros(problem.dim, dtype=DTYPE, requires_grad=True)
    x = problem.x_train
    data_curvature = float(torch.linalg.eigvalsh(x.T @ x / x.shape[0])[-1]) * (
        1.0 if problem.kind == "ridge" else 0.25
    )
    hyper = HyperOptimizer([theta], torch.optim.Adam([theta], lr=lr), **hyper_options)  # type: ignore[arg-type]
    inner_opt = torch.optim.SGD([w], lr=1.0)
    for _ in range(hyper_steps):
        inner_opt.param_groups[0]["lr"] = 1.0 / (data_curvature + float(torch.exp(theta.detach().max())))
        for _ in range(inner_steps):
            inner_opt.zero_grad()
            problem.inner_loss(w, theta).backward()
            inner_opt.step()
        hyper.step(lambda: problem.val_loss(w), lambda: problem.inner_loss(w, theta), [w])
    return theta.detach(), w.detach(), hyper
