"""Exact Gaussian-process surrogate: Matérn-5/2 ARD kernel, standardized outputs, MAP hyperparameters.

Shapes: ``X`` ``(n, d)`` in the unit cube, ``y`` ``(n,)``; ``posterior(X)`` gives ``(m,)`` mean and std.

Model (all in standardized units ``z = (y - mean(y)) / std(y)``)::

    k(x, x') = s * (1 + sqrt(5) r + 5/3 r^2) exp(-sqrt(5) r),   r^2 = sum_j ((x_j - x'_j) / l_j)^2
    z ~ GP(0, k) + N(0, noise)

Hyperparameters ``(l_1..l_d, s, noise)`` maximize the log marginal likelihood plus the log priors (gpytorch's
prior classes): log-normal priors with median 1 on the lengthscales (wide: sigma sqrt(3)) and on the signal
variance, and a log-normal prior on the noise variance centred at e^-8 (sigma 2) that favours near-deterministic
objectives while letting noisy ones (CV errors) raise it. They replace the dimension-scaled lengthscale prior
(Hvarfner et al., 2024; ``lengthscale_prior="dim-scaled"``) with a noise prior at e^-4, which smoothed away the small
differences late refinement needs on smooth 10- and 20-D functions; the comparison is ``python
benchmarks/bench_samplers.py --samplers hpo-gp,hpo-gp-dimscaled --problems bbob_f001_d20,bbob_f010_d10`` (numbers in
docs/benchmarks.md).

Why not gpytorch's ``ExactGP`` + botorch's ``fit_gpytorch_mll``: they compute the same marginal likelihood, but their
generic LinearOperator machinery costs 3-5 ms per likelihood evaluation at n = 100, against well under 1 ms for the
direct Cholesky below; the suggestion overhead target (no more than Optuna's GPSampler) needs the latter. The test
suite checks this posterior against gpytorch's ``ExactGP`` with the same hyperparameters.

Fitting is deterministic (fixed start at the prior medians, L-BFGS-B), so the same data give the same model.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from surrogates.base import GaussianPosterior, Surrogate, check_Xy

__all__ = ["GPSurrogate", "torch_threads", "single_threaded"]


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run a block with one torch thread and one BLAS thread (OpenBLAS/MKL via threadpoolctl), then restore.

    Why: a suggestion's linear algebra is tiny (matrices of a few hundred rows; L-BFGS-B's BLAS calls on vectors of a
    few dozen entries), and on a 2-core machine that is also running the user's training, extra threads only spin:
    measured here, scipy's L-BFGS-B took 10 ms per iteration with 2 OpenBLAS threads on a loaded machine and well
    under 1 ms with one. Only BLAS is limited through threadpoolctl: limiting OpenMP too fights torch's own pool
    (measured: 60x slower); torch gets ``set_num_threads(1)``. The user's settings are restored on exit.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"), torch_threads(1):
        yield


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with ``n`` intra-op torch threads, then restore the user's setting.

    Why: GP matrices in HPO are at most a few hundred rows; at that size extra threads only spin and, on 2 cores,
    multiply the CPU time of a suggestion by 5-10 (measured: 65 ms vs 650 ms for one fit at n = 100).
    """
    import torch

    old = torch.get_num_threads()
    if old == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _matern52(X1, X2, inv_ls):  # (n, d), (m, d), (d,) -> (n, m)
    import torch

    A = X1 * inv_ls
    B = X2 * inv_ls
    d2 = (A * A).sum(-1, keepdim=True) - 2.0 * A @ B.T + (B * B).sum(-1)[None, :]
    r = torch.sqrt(d2.clamp_min(1e-30))
    s5r = math.sqrt(5.0) * r
    return (1.0 + s5r + s5r * s5r / 3.0) * torch.exp(-s5r)


class GPSurrogate(Surrogate):
    """Exact GP with a Matérn-5/2 ARD kernel and MAP-fitted hyperparameters.

    Args:
        noise_floor: smallest noise variance (standardized units); keeps the Cholesky stable on duplicates.
        max_iter: L-BFGS-B iterations for the hyperparameter fit.
        seed: unused by the fit itself (it is deterministic); kept so every surrogate takes ``seed``.
        lengthscale_prior: ``(loc, scale)`` of the log-normal lengthscale prior, or "dim-scaled" for
            ``(sqrt(2) + log(d)/2, sqrt(3))``.
        noise_prior: ``(loc, scale)`` of the log-normal noise-variance prior.
        center: subtract the mean of ``y`` before fitting (objectives). Constraint models use ``center=False``
            (papers.md §1): outputs are only scaled (by their root mean square), so far from the data the model
            reverts to 0 — the feasibility threshold — instead of to the average observed violation, which would
            make an unexplored region look confidently infeasible.
    """

    def __init__(
        self,
        *,
        noise_floor: float = 1e-6,
        max_iter: int = 200,
        seed: int | None = None,
        lengthscale_prior: tuple[float, float] | str = (0.0, math.sqrt(3.0)),
        noise_prior: tuple[float, float] = (-8.0, 2.0),
        center: bool = True,
    ) -> None:
        self.noise_floor = noise_floor
        self.max_iter = max_iter
        self.seed = seed
        self.lengthscale_prior = lengthscale_prior
        self.noise_prior = noise_prior
        self.center = center

    # ------------------------------------------------------------------ fitting
    def _priors(self, d: int):
        from gpytorch.priors import LogNormalPrior

        if self.lengthscale_prior == "dim-scaled":  # Hvarfner et al. (2024), BoTorch's default
            ls_loc, ls_scale = math.sqrt(2.0) + 0.5 * math.log(d), math.sqrt(3.0)
        elif isinstance(self.lengthscale_prior, tuple) and len(self.lengthscale_prior) == 2:
            ls_loc, ls_scale = (float(v) for v in self.lengthscale_prior)
        else:
            raise ValueError(
                f"lengthscale_prior={self.lengthscale_prior!r} must be (loc, scale) of a log-normal or 'dim-scaled'"
            )
        return (
            LogNormalPrior(ls_loc, ls_scale),  # lengthscales (unit cube)
            LogNormalPrior(0.0, 1.0),  # signal variance (standardized outputs)
            LogNormalPrior(*(float(v) for v in self.noise_prior)),  # noise variance
        )

    def fit(self, X: np.ndarray, y: np.ndarray) -> GPSurrogate:
        """Standardize ``y``, fit hyperparameters by MAP, and cache the Cholesky factor."""
        import torch
        from scipy.optimize import minimize

        X, y = check_Xy(X, y)
        n, d = X.shape
        if n == 0:
            raise ValueError("GPSurrogate.fit needs at least one observation")
        if self.center:
            self.y_mean_ = float(np.mean(y))
            std = float(np.std(y))
        else:  # scale only: the GP's prior mean stays at 0, i.e. at a constraint's threshold
            self.y_mean_ = 0.0
            std = float(np.sqrt(np.mean(y * y)))
        self.y_std_ = std if std > 1e-12 else 1.0
        z = (y - self.y_mean_) / self.y_std_
        with torch_threads(1):
            Xt = torch.as_tensor(X, dtype=torch.float64)
            zt = torch.as_tensor(z, dtype=torch.float64)
            ls_prior, s_prior, noise_prior = self._priors(d)
            eye = torch.eye(n, dtype=torch.float64)

            def loss_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
                th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
                ls = th[:d].exp()
                s = th[d].exp()
                noise = th[d + 1].exp() + self.noise_floor
                K = s * _matern52(Xt, Xt, 1.0 / ls) + noise * eye
                L, info = torch.linalg.cholesky_ex(K)
                if int(info) != 0:
                    return 1e10, np.zeros_like(theta)
                a = torch.cholesky_solve(zt[:, None], L)[:, 0]
                nll = 0.5 * (zt * a).sum() + torch.log(torch.diagonal(L)).sum()
                nlp = -(
                    ls_prior.log_prob(ls).sum()
                    + s_prior.log_prob(s)
                    + noise_prior.log_prob(noise - self.noise_floor)
                )
                total = nll + nlp
                total.backward()
                g = th.grad.numpy().copy()
                if not np.all(np.isfinite(g)):
                    return 1e10, np.zeros_like(theta)
                return float(total.detach()), g

            theta0 = np.concatenate([np.full(d, ls_prior.loc.item()), [0.0], [math.log(1e-3)]])
            bounds = [(math.log(1e-3), math.log(1e3))] * d + [(math.log(1e-3), math.log(1e2))]
            bounds += [(math.log(1e-9), math.log(2.0))]
            res = minimize(
                loss_and_grad,
                theta0,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": self.max_iter},
            )
            theta = res.x if np.isfinite(res.fun) and res.fun < 1e9 else theta0
            self._set_hypers(
                Xt,
                zt,
                np.exp(theta[:d]),
                float(np.exp(theta[d])),
                float(np.exp(theta[d + 1])) + self.noise_floor,
            )
        return self

    def _set_hypers(self, Xt, zt, lengthscale: np.ndarray, signal: float, noise: float) -> None:
        import torch

        self.lengthscale_ = np.asarray(lengthscale, dtype=float)
        self.signal_ = float(signal)
        self.noise_ = float(noise)
        self.X_ = Xt
        self.z_ = zt
        n = Xt.shape[0]
        K = self.signal_ * _matern52(
            Xt, Xt, torch.as_tensor(1.0 / self.lengthscale_)
        ) + self.noise_ * torch.eye(n, dtype=torch.float64)
        jitter = 0.0
        for _ in range(6):
            L, info = torch.linalg.cholesky_ex(K + jitter * torch.eye(n, dtype=torch.float64))
            if int(info) == 0:
                break
            jitter = 1e-8 if jitter == 0.0 else jitter * 10.0
        self.L_ = L
        self.alpha_ = torch.cholesky_solve(zt[:, None], L)[:, 0]

    def with_fantasies(self, X_new: np.ndarray, y_new: np.ndarray) -> GPSurrogate:
        """A copy conditioned on extra points with the *same* hyperparameters (for pending trials).

        Why not refit: a fantasy (Kriging-believer value) carries no information about the kernel, and refitting
        on invented data would only shrink the lengthscales around it.
        """
        import torch

        self._check_fitted("L_")
        X_new, y_new = check_Xy(X_new, y_new)
        if X_new.shape[0] == 0:
            return self
        other = GPSurrogate(**self.get_params())
        other.y_mean_, other.y_std_ = self.y_mean_, self.y_std_
        with torch_threads(1):
            Xt = torch.cat([self.X_, torch.as_tensor(X_new, dtype=torch.float64)])
            zt = torch.cat(
                [self.z_, torch.as_tensor((y_new - self.y_mean_) / self.y_std_, dtype=torch.float64)]
            )
            other._set_hypers(Xt, zt, self.lengthscale_, self.signal_, self.noise_)
        return other

    def with_lengthscale_cap(self, cap: float) -> GPSurrogate:
        """A copy on the same data whose lengthscales are at most ``cap`` (other hyperparameters kept).

        Why: a marginal-likelihood fit on data that look constant picks very long lengthscales and then claims
        confidence far from any observation (papers.md §1 pitfall: ML-II refits break the coverage CONFIG's
        infeasibility test needs). Capping them gives the kind of fixed-kernel uncertainty the declaration assumes.
        """

        self._check_fitted("L_")
        other = GPSurrogate(**self.get_params())
        other.y_mean_, other.y_std_ = self.y_mean_, self.y_std_
        with torch_threads(1):
            other._set_hypers(self.X_, self.z_, np.minimum(self.lengthscale_, cap), self.signal_, self.noise_)
        return other

    # ------------------------------------------------------------------ prediction
    def predict_torch(self, Xq):
        """Differentiable ``(m, d)`` torch tensor -> ``(mean, std)`` tensors ``(m,)`` in original units."""
        import torch

        self._check_fitted("L_")
        Kq = self.signal_ * _matern52(Xq, self.X_, torch.as_tensor(1.0 / self.lengthscale_))
        mean_z = Kq @ self.alpha_
        v = torch.linalg.solve_triangular(self.L_, Kq.T, upper=False)
        var_z = (self.signal_ - (v * v).sum(0)).clamp_min(1e-12)
        return self.y_mean_ + self.y_std_ * mean_z, self.y_std_ * var_z.sqrt()

    def posterior(self, X: np.ndarray) -> GaussianPosterior:
        import torch

        X, _ = check_Xy(X)
        with torch_threads(1), torch.no_grad():
            m, s = self.predict_torch(torch.as_tensor(X, dtype=torch.float64))
        return GaussianPosterior(m.numpy(), s.numpy())
