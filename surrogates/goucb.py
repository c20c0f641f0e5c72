"""Neural surrogate with GO-UCB's gradient-based confidence set (Liu & Wang, ICML 2023; papers.md §3).

Shapes: ``X`` ``(n, d)`` in the unit cube, ``y`` ``(n,)``; ``posterior(X)`` gives ``(m,)`` mean and std. Inside,
``E`` ensemble members, hidden widths ``h_1..h_L``, weight count ``d_w`` per member, ``N`` rows in the confidence
set (observed plus pending points), ``p`` the length of the gradient feature vector.

Model. ``f_w`` is the mean of ``E`` small MLPs (``d -> h_1 -> ... -> h_L -> 1``, smooth activations, because the
paper assumes twice-differentiable ``f_w``), fitted by least squares on standardized targets
``z = (y - mean(y)) / std(y)`` with AdamW (weight decay), full batch, and early stopping: member ``e`` holds out its
own slice of the data, so every point trains most members and a bad initialization is outvoted. All members train
at once as one batched network, with the backward pass written out by hand and AdamW applied to one flat weight
buffer (no autograd graph, no per-tensor optimizer loop): a step is about 30 tensor operations.

Confidence set (papers.md §3, steps 4-7). With ``g(x) = grad_w f_w(x)`` at the trained weights::

    Sigma = lam_abs * I + sum_i g_i g_i^T                                   # step 4, i over observed + pending
    width(x) = sqrt(lam_abs / c) * ||g(x)||_{Sigma^-1},   c = mean_i ||g_i||^2,   lam_abs = lam * c
    index(x) = f_w(x) - sqrt(beta) * width(x)                               # inner max of step 7 (minimize)

The scale factor only re-expresses ``beta`` (papers.md: tune sqrt(beta) as one scalar): with it, ``width`` is about
1 far from the data and shrinks to about ``sqrt(lam)`` under many observations, like a GP posterior std in
standardized units. In fact ``width`` *is* the posterior std of a GP whose kernel is the network's empirical neural
tangent kernel ``<g(x), g(x')> / c`` with noise variance ``lam`` (Woodbury identity below), which is why the same
posterior object serves CONFIG and pending trials.

``Sigma`` is ``p x p`` with ``p = E * d_w`` (thousands), so it is kept in whichever of two exact forms is smaller:

* primal, ``p <= N``: ``Sigma^-1`` itself, built and extended with Sherman-Morrison rank-one updates
  ``(A + g g^T)^-1 = A^-1 - A^-1 g g^T A^-1 / (1 + g^T A^-1 g)`` (one per point, O(p^2) each);
* dual, ``p > N``: the Woodbury form ``Sigma^-1 = (I - G^T (lam_abs I + G G^T)^-1 G) / lam_abs`` (``G`` the ``N x p``
  gradient rows), which only needs inner products ``<g(x), g(x')>``. For an MLP these come layer by layer without
  forming any ``g``: with activations ``a_l`` and back-propagated signals ``delta_l = df/dz_l``,
  ``<g(x), g(x')> = sum_l (delta_l . delta_l')(a_{l-1} . a_{l-1}' + 1) + a_L . a_L' + 1``.

Inputs. The network reads the centred coordinates ``u = 2x - 1`` and, with ``inputs="quadratic"`` (the default),
their squares ``u^2 - 1/3`` as well (``1/3`` is the mean of ``u^2`` over the cube, so the extra inputs start centred
too). Why: fitted to a few dozen points in 20+ dimensions, a weight-decayed MLP on ``u`` alone is close to linear,
so its minimizer over any box is a corner and every GO-UCB step is a sign-gradient step; with the squares, a
separable quadratic model ``sum_i a_i u_i^2 + b_i u_i`` (any centre per coordinate, found by the fit) costs the
network no more weight than a linear one, so the mean can bend and have its minimum inside the box (the model
class of derivative-free trust-region methods). On one-hot or boolean columns the square is a constant and is
absorbed by the biases. ``inputs="linear"`` is the network on ``u`` alone (the behaviour before 2026-11-28, session
6).

``features="last_layer"`` is the documented approximation for very many trials (``N`` in the thousands, where the
dual's ``N x N`` system grows): only the output layer's gradient, ``[a_L(x), 1]`` per member, enters ``g``; then
``p = E (h_L + 1)`` is small and the primal Sherman-Morrison form is used. It keeps no uncertainty about the hidden
layers, so widths shrink faster than with ``features="full"`` (the default).

Departures from the analysed algorithm (papers.md: "periodic warm-start retraining departs from it"): proposals are
pure functions of the stored history, so every proposal retrains ``f_w`` from scratch and evaluates all ``g_i`` at
the current weights (the paper uses the estimate current at step ``i``), and the oracle is an ensemble trained by
AdamW, not a global least-squares minimizer.

Precision: training runs in float32, everything after it in float64. At 100-200 points the batched products of a
training step are real arithmetic, not only per-operation overhead: float32 made them 2.8x faster (measured, one
thread: 16 vs 44 us for ``(5, 200, 20) @ (5, 20, 32)``), and the fit does not need more digits. The confidence set
is built from a float64 copy of the trained weights, because ``width`` is a difference of nearly equal numbers where
the data are dense, which float32 would turn into noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from surrogates.base import GaussianPosterior, Surrogate, check_Xy
from surrogates.gp import torch_threads

__all__ = ["GOUCBSurrogate", "GOUCBPosterior", "sherman_morrison_update", "default_startup_trials"]

_ACTIVATIONS = ("silu", "tanh")
_CHECK_EVERY = 5  # training steps between reads of the held-out loss
_FEATURES = ("full", "last_layer")
_INPUTS = ("quadratic", "linear")


def default_startup_trials(dim: int, budget: int | None = None) -> int:
    """Phase I length: ``ceil(sqrt(T))`` uniform trials, at least 10 (papers.md §3: ``T0 ~ sqrt(T)``).

    Args:
        dim: encoded dimension of the space.
        budget: the number of trials ``T`` the study will run; None assumes ``T = 100`` (the sampler is not told
            the budget). Measured: on BBOB f15 in 40-D with 100 trials, a 20-trial Phase I (``sqrt(400)``, an
            earlier default that grew with the dimension) left a normalized regret of 0.250, a 10-trial one 0.191.

    Raises:
        ValueError: ``dim < 1`` or ``budget < 1``.
    """
    if int(dim) < 1:
        raise ValueError(f"dim={dim!r} must be >= 1")
    if budget is not None and int(budget) < 1:
        raise ValueError(f"budget={budget!r} must be >= 1")
    T = 100 if budget is None else int(budget)
    return max(10, math.ceil(math.sqrt(T)))


def sherman_morrison_update(A_inv: np.ndarray, G: np.ndarray) -> np.ndarray:
    """``(A + sum_i g_i g_i^T)^-1`` from ``A^-1`` ``(p, p)`` by one rank-one update per row ``g_i`` of ``G`` ``(k, p)``.

    Works on numpy arrays and on torch tensors alike (only ``@`` and broadcasting are used).
    """
    for g in G:
        u = A_inv @ g
        A_inv = A_inv - (u[:, None] * u[None, :]) / (1.0 + g @ u)
    return A_inv


class GOUCBPosterior(GaussianPosterior):
    """Mean ``f_w(x)`` and confidence width; ``lower(beta)`` / ``upper(beta)`` are GO-UCB's optimistic and
    pessimistic values ``mean -/+ sqrt(beta) * width`` (``quantile`` reads the width as a normal std)."""

    @property
    def width(self) -> np.ndarray:
        """``(n,)`` ``sqrt(lam_abs / c) * ||g(x)||_{Sigma^-1}`` in the target's units."""
        return self.std

    def lower(self, beta: float) -> np.ndarray:
        return self.mean - math.sqrt(beta) * self.std

    def upper(self, beta: float) -> np.ndarray:
        return self.mean + math.sqrt(beta) * self.std


class GOUCBSurrogate(Surrogate):
    """Ensemble MLP ``f_w`` with GO-UCB's gradient confidence set.

    Args:
        hidden: widths of the hidden layers.
        n_ensemble: networks averaged into ``f_w``; each holds out a different slice for early stopping.
        activation: "silu" or "tanh" (smooth, as the analysis assumes).
        lr: AdamW learning rate.
        weight_decay: AdamW decoupled weight decay.
        max_epochs: full-batch training steps at most.
        min_epochs: steps before early stopping may end a member (the held-out loss of a fresh network is noisy).
        patience: steps without a better held-out loss before a member stops.
        holdout: share of the data each member holds out (no hold-out below 8 points).
        lam: regularizer of ``Sigma`` relative to the mean squared gradient norm (the GP-equivalent noise variance in
            standardized units).
        features: "full" (all weights; exact) or "last_layer" (output layer only; for thousands of trials).
        inputs: "quadratic" (centred coordinates and their squares) or "linear" (coordinates only); see the module
            docstring for why squares.
        seed: seed of the initializations and hold-out slices (a local ``torch.Generator``; the global torch seed is
            untouched).

    Raises:
        ValueError: from ``fit``, naming the bad option.
    """

    #: The Proposer asks this for the Phase I length when the user sets no ``n_startup_trials``.
    default_startup_trials = staticmethod(default_startup_trials)

    def __init__(
        self,
        *,
        hidden: Sequence[int] = (32, 32),
        n_ensemble: int = 5,
        activation: str = "silu",
        lr: float = 0.01,
        weight_decay: float = 1e-3,
        max_epochs: int = 400,
        min_epochs: int = 100,
        patience: int = 100,
        holdout: float = 0.15,
        lam: float = 0.01,
        features: str = "full",
        inputs: str = "quadratic",
        seed: int | None = None,
    ) -> None:
        self.hidden = hidden
        self.n_ensemble = n_ensemble
        self.activation = activation
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.min_epochs = min_epochs
        self.patience = patience
        self.holdout = holdout
        self.lam = lam
        self.features = features
        self.inputs = inputs
        self.seed = seed

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        hidden = tuple(self.hidden)
        if not hidden or any(isinstance(h, bool) or int(h) != h or int(h) < 1 for h in hidden):
            raise ValueError(f"hidden={self.hidden!r} must be a non-empty sequence of integers >= 1")
        for name, low in (("n_ensemble", 1), ("max_epochs", 1), ("min_epochs", 0), ("patience", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or int(v) < low:
                raise ValueError(f"{name}={v!r} must be an integer >= {low}")
        for name in ("lr", "lam"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name}={v!r} must be a finite number > 0")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay={self.weight_decay!r} must be a finite number >= 0")
        if not 0.0 <= self.holdout < 1.0:
            raise ValueError(f"holdout={self.holdout!r} must be in [0, 1)")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation={self.activation!r} is not one of {list(_ACTIVATIONS)!r}")
        if self.features not in _FEATURES:
            raise ValueError(f"features={self.features!r} is not one of {list(_FEATURES)!r}")
        if self.inputs not in _INPUTS:
            raise ValueError(f"inputs={self.inputs!r} is not one of {list(_INPUTS)!r}")

    # ------------------------------------------------------------------ network
    def _act(self, z):
        """Activation and its derivative, ``(value, slope)``, both differentiable tensors."""
        import torch

        if self.activation == "tanh":
            t = torch.tanh(z)
            return t, 1.0 - t * t
        s = torch.sigmoid(z)
        return z * s, s * (1.0 + z * (1.0 - s))

    def _inputs(self, X):
        """The network's input rows for ``(m, d)`` cube points: ``u = 2x - 1``, then ``u^2 - 1/3`` if quadratic."""
        import torch

        u = 2.0 * X - 1.0  # centred: no corner of the cube is special
        if self.inputs == "linear":
            return u
        return torch.cat([u, u * u - 1.0 / 3.0], dim=-1)

    def _n_inputs(self, d: int) -> int:
        return d if self.inputs == "linear" else 2 * d

    def _forward(self, params, X, *, signals: bool = False):
        """Ensemble forward pass of ``(m, d)`` -> ``(E, m)`` outputs in standardized units.

        With ``signals``, also the per-layer inputs ``a_0..a_L`` ``(E, m, h_{l})`` and back-propagated signals
        ``delta_1..delta_L`` ``(E, m, h_l)`` (``delta_l = df/dz_l``), from which every per-sample weight gradient
        is an outer product ``a_{l-1} delta_l^T``.
        """
        E = params[0].shape[0]
        a = self._inputs(X).expand(E, X.shape[0], -1)
        acts, slopes = [a], []
        n_hidden = (len(params) - 2) // 2
        for layer in range(n_hidden):
            W, b = params[2 * layer], params[2 * layer + 1]
            a, s = self._act(a @ W + b)
            acts.append(a)
            slopes.append(s)
        w_out, b_out = params[-2], params[-1]
        out = (a @ w_out + b_out)[..., 0]
        if not signals:
            return out
        delta = slopes[-1] * w_out[:, :, 0][:, None, :]
        deltas = [delta]
        for layer in range(n_hidden - 1, 0, -1):
            delta = (delta @ params[2 * layer].transpose(1, 2)) * slopes[layer - 1]
            deltas.append(delta)
        return out, acts, deltas[::-1]

    def _init_params(self, d: int, gen):
        """PyTorch's default ``Linear`` initialization (uniform in ``+-1/sqrt(fan_in)``), one set per member."""
        import torch

        E = int(self.n_ensemble)
        sizes = [d, *(int(h) for h in self.hidden), 1]
        params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            bound = 1.0 / math.sqrt(fan_in)
            for shape in ((E, fan_in, fan_out), (E, 1, fan_out)):
                u = torch.rand(shape, generator=gen, dtype=torch.float64)
                params.append(((2.0 * u - 1.0) * bound).requires_grad_(True))
        return params

    def _train(self, Xt, zt, gen) -> tuple[list, np.ndarray]:
        """AdamW on all members at once, early stopping per member on its held-out slice.

        The members' weights live in one ``(E, P)`` float32 buffer; forward and backward passes are written out by
        hand (no autograd graph) and AdamW is applied to the whole buffer at once, so a training step is about 30
        tensor operations whatever the depth. float32 is enough for the fit (the confidence set is built from the
        float64 copy returned here) and makes the batched matrix products 2-3x cheaper on a CPU.

        Returns the kept parameters (float64, the shapes of :meth:`_init_params`) and, per member, the step at
        which they were reached.
        """
        import torch

        n, d = Xt.shape
        E = int(self.n_ensemble)
        init = self._init_params(self._n_inputs(d), gen)
        shapes = [tuple(p.shape[1:]) for p in init]
        sizes = [math.prod(s) for s in shapes]
        theta = torch.cat([p.detach().reshape(E, -1) for p in init], dim=1).to(torch.float32)
        views = []  # views into theta, in the order of _init_params
        offset = 0
        for shape, size in zip(shapes, sizes, strict=True):
            views.append(theta[:, offset : offset + size].view(E, *shape))
            offset += size
        n_hidden = (len(views) - 2) // 2
        train_mask = torch.ones(E, n, dtype=torch.float32)
        n_val = int(round(self.holdout * n)) if n >= 8 else 0
        if n_val:
            for e in range(E):
                train_mask[e, torch.randperm(n, generator=gen)[:n_val]] = 0.0
        val_mask = 1.0 - train_mask
        n_tr = train_mask.sum(1)
        n_va = val_mask.sum(1).clamp_min(1.0)
        out_scale = 2.0 * train_mask / n_tr[:, None]  # d(sum_e mean training loss_e) / d(residual)
        a0 = self._inputs(Xt.to(torch.float32)).expand(E, n, -1)
        a0_t = a0.transpose(1, 2)
        z = zt.to(torch.float32)
        lr, wd = float(self.lr), float(self.weight_decay)
        b1, b2, eps = 0.9, 0.999, 1e-8
        m1 = torch.zeros_like(theta)
        m2 = torch.zeros_like(theta)
        best = theta.clone()
        best_val = torch.full((E,), math.inf, dtype=torch.float32)
        best_step = torch.zeros(E, dtype=torch.long)
        active = torch.ones(E, dtype=torch.bool)
        min_epochs, patience = int(self.min_epochs), int(self.patience)
        completed = True
        for step in range(int(self.max_epochs)):
            # forward, keeping what the backward pass needs
            acts, slopes = [a0], []
            a = a0
            for layer in range(n_hidden):
                a, s = self._act(torch.baddbmm(views[2 * layer + 1], a, views[2 * layer]))
                acts.append(a)
                slopes.append(s)
            # (E, n) residuals, at the weights before this step
            resid = torch.baddbmm(views[-1], a, views[-2])[..., 0] - z
            # the held-out loss is read every _CHECK_EVERY steps from min_epochs on: before that it is noisy (a
            # barely trained network can look good by chance), and reading it every step costs as much as training
            if step >= min_epochs and (step - min_epochs) % _CHECK_EVERY == 0:
                sq = resid * resid
                val = (sq * val_mask).sum(1) / n_va if n_val else (sq * train_mask).sum(1) / n_tr
                better = (val < best_val - 1e-9) & active
                best = torch.where(better[:, None], theta, best)
                best_val = torch.where(better, val, best_val)
                best_step = torch.where(better, torch.full_like(best_step, step), best_step)
                # members that stopped keep their best weights; each active member's held-out loss decides
                active &= (step - best_step) < patience
                if not active.any():
                    completed = False
                    break
            # backward of sum_e mean_{i in train_e} resid^2, by hand
            g_out = (resid * out_scale)[..., None]  # (E, n, 1)
            grads = [None] * len(views)
            grads[-2] = torch.bmm(acts[-1].transpose(1, 2), g_out)
            grads[-1] = g_out.sum(1, keepdim=True)
            delta = g_out * views[-2].transpose(1, 2) * slopes[-1]  # (E, n, h_L)
            for layer in range(n_hidden - 1, -1, -1):
                a_in_t = a0_t if layer == 0 else acts[layer].transpose(1, 2)
                grads[2 * layer] = torch.bmm(a_in_t, delta)
                grads[2 * layer + 1] = delta.sum(1, keepdim=True)
                if layer:
                    delta = torch.bmm(delta, views[2 * layer].transpose(1, 2)) * slopes[layer - 1]
            g = torch.cat([gr.reshape(E, -1) for gr in grads], dim=1)
            # AdamW (decoupled weight decay), as torch.optim.AdamW with its default betas and eps
            t = step + 1
            theta.mul_(1.0 - lr * wd)
            m1.lerp_(g, 1.0 - b1)
            m2.mul_(b2).addcmul_(g, g, value=1.0 - b2)
            denom = (m2.sqrt() / math.sqrt(1.0 - b2**t)).add_(eps)
            theta.addcdiv_(m1, denom, value=-lr / (1.0 - b1**t))
        if completed:
            # members never read (max_epochs <= min_epochs) keep their last weights
            never = torch.isinf(best_val)
            best = torch.where(never[:, None], theta, best)
            best_step = torch.where(never, torch.full_like(best_step, int(self.max_epochs)), best_step)
        best = best.to(torch.float64)
        params = []
        offset = 0
        for shape, size in zip(shapes, sizes, strict=True):
            params.append(best[:, offset : offset + size].reshape(E, *shape).contiguous())
            offset += size
        return params, best_step.numpy()

    # ------------------------------------------------------------------ gradient features
    def _ntk(self, sig_a, sig_b):
        """``(m_a, m_b)`` inner products ``<g(x_a), g(x_b)>`` of the ensemble-mean gradients, from signals."""
        acts_a, deltas_a = sig_a
        acts_b, deltas_b = sig_b
        E = acts_a[0].shape[0]
        if self.features == "last_layer":
            K = (acts_a[-1] @ acts_b[-1].transpose(1, 2) + 1.0).sum(0)
            return K / (E * E)
        K = acts_a[-1] @ acts_b[-1].transpose(1, 2) + 1.0
        for a_a, a_b, d_a, d_b in zip(acts_a[:-1], acts_b[:-1], deltas_a, deltas_b, strict=True):
            K = K + (d_a @ d_b.transpose(1, 2)) * (a_a @ a_b.transpose(1, 2) + 1.0)
        return K.sum(0) / (E * E)

    def _ntk_diag(self, sig):
        """``(m,)`` squared norms ``||g(x)||^2``."""
        acts, deltas = sig
        E = acts[0].shape[0]
        k = (acts[-1] * acts[-1]).sum(-1) + 1.0
        if self.features == "full":
            for a, dl in zip(acts[:-1], deltas, strict=True):
                k = k + (dl * dl).sum(-1) * ((a * a).sum(-1) + 1.0)
        return k.sum(0) / (E * E)

    def _flat_grads(self, sig):
        """``(m, p)`` explicit gradient vectors (primal form only, where ``p`` is small)."""
        import torch

        acts, deltas = sig
        E, m = acts[0].shape[:2]
        ones = torch.ones(E, m, 1, dtype=acts[0].dtype)
        blocks = []
        if self.features == "full":
            for a, dl in zip(acts[:-1], deltas, strict=True):
                blocks.append((a[..., :, None] * dl[..., None, :]).reshape(E, m, -1))
                blocks.append(dl)
        blocks += [acts[-1], ones]
        G = torch.cat(blocks, dim=-1)  # (E, m, d_w or h_L + 1)
        return G.transpose(0, 1).reshape(m, -1) / E

    def _n_features(self) -> int:
        sizes = [self._n_inputs(self.n_in_), *self.hidden_]
        if self.features == "last_layer":
            return self.n_ensemble_ * (sizes[-1] + 1)
        d_w = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)) + sizes[-1] + 1
        return self.n_ensemble_ * d_w

    # ------------------------------------------------------------------ fit
    def fit(self, X: np.ndarray, y: np.ndarray) -> GOUCBSurrogate:
        """Standardize ``y``, train the ensemble (Phase I's oracle) and build the confidence set ``Sigma``."""
        import torch

        self._check_params()
        X, y = check_Xy(X, y)
        n, d = X.shape
        if n == 0:
            raise ValueError("GOUCBSurrogate.fit needs at least one observation")
        self.y_mean_ = float(np.mean(y))
        std = float(np.std(y))
        self.y_std_ = std if std > 1e-12 else 1.0
        z = (y - self.y_mean_) / self.y_std_
        gen = torch.Generator().manual_seed(int(np.random.SeedSequence(self.seed).generate_state(1)[0]))
        with torch_threads(1):
            Xt = torch.as_tensor(X, dtype=torch.float64)
            params, steps = self._train(Xt, torch.as_tensor(z, dtype=torch.float64), gen)
            self.params_ = params
            self.best_step_ = steps
            self.n_in_ = d
            self.hidden_ = tuple(int(h) for h in self.hidden)
            self.n_ensemble_ = int(self.n_ensemble)
            self.X_train_ = X
            self.y_train_ = y
            with torch.no_grad():
                _, acts, deltas = self._forward(params, Xt, signals=True)
                self.scale_ = float(self._ntk_diag((acts, deltas)).mean())
                self._set_confidence_set((acts, deltas), torch.zeros(0, dtype=torch.float64))
        return self

    def _set_confidence_set(self, sig, resid) -> None:
        """Build ``Sigma`` (primal or dual) from the signals of its ``N`` rows, and the mean correction for
        rows whose believed value differs from ``f_w`` (``resid`` ``(k,)``, the last ``k`` rows; see
        :meth:`with_fantasies`)."""
        import torch

        N = sig[0][0].shape[1]
        lam_abs = float(self.lam) * self.scale_
        self.lam_abs_ = lam_abs
        self.sig_ = sig
        self.dual_ = self._n_features() > N
        k = resid.shape[0]
        if self.dual_:
            K = self._ntk(sig, sig)
            M = K + lam_abs * torch.eye(N, dtype=torch.float64)
            self.chol_ = torch.linalg.cholesky(M)
            self.Sigma_inv_ = None
            alpha = torch.zeros(N, dtype=torch.float64)
            if k:
                # g(x)^T Sigma^-1 G_new^T r = k_x^T (S r - M^-1 K_{:,new} r) / lam_abs (Woodbury)
                Kr = K[:, N - k :] @ resid
                alpha = -torch.cholesky_solve(Kr[:, None], self.chol_)[:, 0]
                alpha[N - k :] += resid
                alpha = alpha / lam_abs
            self.alpha_ = alpha
        else:
            G = self._flat_grads(sig)  # (N, p)
            p = G.shape[1]
            self.Sigma_inv_ = sherman_morrison_update(torch.eye(p, dtype=torch.float64) / lam_abs, G)
            self.chol_ = None
            self.alpha_ = (
                self.Sigma_inv_ @ (G[N - k :].T @ resid) if k else torch.zeros(p, dtype=torch.float64)
            )

    def with_fantasies(self, X_new: np.ndarray, y_new: np.ndarray) -> GOUCBSurrogate:
        """A copy whose confidence set also holds the pending points' gradients (no retraining).

        ``Sigma`` gains ``g(x_p) g(x_p)^T`` per pending point, so the width shrinks there as a GP's std would. A
        believed value equal to ``f_w(x_p)`` (the Kriging believer the scheduler uses) leaves the mean unchanged;
        any other value moves it by one linearized Gauss-Newton step (papers.md §3, step 5):
        ``Delta f(x) = g(x)^T Sigma^-1 sum_p g_p (y_p - f_w(x_p))``.
        """
        import copy

        import torch

        self._check_fitted("params_")
        X_new, y_new = check_Xy(X_new, y_new)
        if X_new.shape[0] == 0:
            return self
        if X_new.shape[1] != self.n_in_:
            raise ValueError(f"X_new has {X_new.shape[1]} columns, the model was fitted on {self.n_in_}")
        other = copy.copy(self)
        with torch_threads(1), torch.no_grad():
            Xp = torch.as_tensor(X_new, dtype=torch.float64)
            out, acts, deltas = self._forward(self.params_, Xp, signals=True)
            z_new = torch.as_tensor((y_new - self.y_mean_) / self.y_std_, dtype=torch.float64)
            resid = z_new - out.mean(0)
            # earlier fantasies' residuals stay in the correction, as the last rows of the set
            old_resid = getattr(self, "resid_", torch.zeros(0, dtype=torch.float64))
            resid = torch.cat([old_resid, resid])
            sig = tuple(
                [torch.cat([old, new], dim=1) for old, new in zip(o, nw, strict=True)]
                for o, nw in zip(self.sig_, (acts, deltas), strict=True)
            )
            other._set_confidence_set(sig, resid)
            other.resid_ = resid
        return other

    # ------------------------------------------------------------------ prediction
    def predict_torch(self, Xq):
        """Differentiable ``(m, d)`` tensor -> ``(mean, width)`` tensors ``(m,)`` in the target's units."""
        import torch

        self._check_fitted("params_")
        out, acts, deltas = self._forward(self.params_, Xq, signals=True)
        mean_z = out.mean(0)
        if self.dual_:
            Kq = self._ntk(self.sig_, (acts, deltas))  # (N, m)
            v = torch.linalg.solve_triangular(self.chol_, Kq, upper=False)
            quad = (self._ntk_diag((acts, deltas)) - (v * v).sum(0)) / self.lam_abs_  # ||g||^2_{Sigma^-1}
            mean_z = mean_z + Kq.T @ self.alpha_
        else:
            Gq = self._flat_grads((acts, deltas))
            quad = ((Gq @ self.Sigma_inv_) * Gq).sum(1)
            mean_z = mean_z + Gq @ self.alpha_
        width_z = (quad.clamp_min(1e-18) * (self.lam_abs_ / self.scale_)).sqrt()
        return self.y_mean_ + self.y_std_ * mean_z, self.y_std_ * width_z

    def posterior(self, X: np.ndarray) -> GOUCBPosterior:
        import torch

        self._check_fitted("params_")
        X, _ = check_Xy(X)
        if X.shape[1] != self.n_in_:
            raise ValueError(f"X has {X.shape[1]} columns, the model was fitted on {self.n_in_}")
        with torch_threads(1), torch.no_grad():
            m, s = self.predict_torch(torch.as_tensor(X, dtype=torch.float64))
        return GOUCBPosterior(m.numpy(), s.numpy())
