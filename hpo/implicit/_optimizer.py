"""The hyper-step of the paper's alternating schedule (papers.md §4, Alg. 1).

Alg. 1: repeat { N ordinary optimiser steps on ``w`` (warm-started, never re-initialised); one hyper-step
``lam <- lam - eta * hypergrad(lam, w)`` }. The user owns the training loop and the ``N`` steps; this class owns the
hyper-step and the safeguards a long run needs (damping, divergence handling, hypergradient clipping, a cached
``lambda_max`` for the Neumann step size).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable

import torch

from hpo.implicit._hypergradient import Loss, compute, validate_options
from hpo.implicit._solvers import HypergradientDivergenceError, SolveInfo

DIVERGENCE_POLICIES = ("truncate", "skip", "raise")


class _NonFiniteHypergradient(HypergradientDivergenceError):
    """A NaN or infinite hypergradient: never applied, whatever ``on_divergence`` says."""


class HyperOptimizer:
    """Apply implicit hypergradients to ``hparams`` through a torch optimiser.

    Example::

        log_decay = torch.full_like(w, -6.0, requires_grad=True)      # decay = exp(log_decay) stays positive
        hyper = HyperOptimizer([log_decay], torch.optim.Adam([log_decay], lr=1e-2))
        for step in range(n_steps):
            opt.zero_grad(); inner_loss().backward(); opt.step()        # ordinary training step on w
            if step % 10 == 9:
                hyper.step(outer_loss, inner_loss, [w])                 # one hyper-step

    Keep hyperparameters valid by parametrisation rather than clamping (``exp`` of a log decay, ``softplus``):
    the hypergradient is then taken with respect to the unconstrained tensor.

    Args:
        hparams: The hyperparameter tensors (``requires_grad=True``); they must be in ``optimizer``.
        optimizer: Any ``torch.optim.Optimizer`` over ``hparams``; it sees the hypergradient in ``.grad``.
        method, terms, alpha, max_iter, tol, damping, lanczos_iters, max_exact_params: As in
            :func:`hpo.implicit.hypergradient`.
        clip_norm: If given, rescale the hypergradient (all hparams together) to at most this Euclidean norm. Far
            from a minimum of ``L_T`` the IFT hypergradient can be huge; clipping keeps one bad step harmless.
        on_divergence: ``"truncate"`` (default) uses the Neumann sum or CG iterate reached before divergence, with
            a warning; ``"skip"`` skips the hyper-step with a warning; ``"raise"`` raises
            :class:`HypergradientDivergenceError`. Skipped steps are counted in ``n_skipped``.
        lambda_max_every: Neumann only: re-estimate ``lambda_max`` (``lanczos_iters`` HVPs) every this many
            hyper-steps and reuse it in between; it is used for ``alpha=None`` and for the ``2/lambda_max`` guard.

    Attributes:
        last_info: What the last hyper-step's solver did (HVP count, iterations, divergence, ``alpha``).
        n_steps: Hyper-steps taken. ``n_skipped``: hyper-steps skipped (divergence or non-finite hypergradient).
            ``n_truncated``: hyper-steps whose solver diverged and was truncated (``on_divergence="truncate"``).
            ``n_hvp``: Hessian-vector products spent so far, Lanczos estimates included.
    """

    def __init__(
        self,
        hparams: Iterable[torch.Tensor],
        optimizer: torch.optim.Optimizer,
        *,
        method: str = "cg",
        terms: int = 10,
        alpha: float | None = None,
        max_iter: int = 10,
        tol: float = 1e-6,
        damping: float = 0.0,
        clip_norm: float | None = None,
        on_divergence: str = "truncate",
        lanczos_iters: int = 10,
        lambda_max_every: int = 10,
        max_exact_params: int = 4096,
    ) -> None:
        if on_divergence not in DIVERGENCE_POLICIES:
            raise ValueError(f"on_divergence={on_divergence!r} is not one of {DIVERGENCE_POLICIES}")
        validate_options(
            method=method,
            terms=terms,
            alpha=alpha,
            max_iter=max_iter,
            tol=tol,
            damping=damping,
            on_divergence="raise",
            lanczos_iters=lanczos_iters,
            max_exact_params=max_exact_params,
        )
        if clip_norm is not None and not (isinstance(clip_norm, int | float) and 0.0 < clip_norm < math.inf):
            raise ValueError(f"clip_norm={clip_norm!r} must be a positive finite number or None")
        if (
            isinstance(lambda_max_every, bool)
            or not isinstance(lambda_max_every, int)
            or lambda_max_every < 1
        ):
            raise ValueError(f"lambda_max_every={lambda_max_every!r} must be an integer >= 1")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        self.hparams = list(hparams)
        if not self.hparams:
            raise ValueError("hparams is empty; pass the hyperparameter tensors")
        owned = {id(p) for group in optimizer.param_groups for p in group["params"]}
        for i, h in enumerate(self.hparams):
            if not isinstance(h, torch.Tensor) or not h.requires_grad:
                raise ValueError(f"hparams[{i}] must be a tensor with requires_grad=True")
            if id(h) not in owned:
                raise ValueError(f"hparams[{i}] (shape {tuple(h.shape)}) is not among optimizer's parameters")
        self.optimizer = optimizer
        self.method = method
        self.terms = terms
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.damping = damping
        self.clip_norm = clip_norm
        self.on_divergence = on_divergence
        self.lanczos_iters = lanczos_iters
        self.lambda_max_every = lambda_max_every
        self.max_exact_params = max_exact_params
        self.last_info: SolveInfo | None = None
        self.n_steps = 0
        self.n_skipped = 0
        self.n_truncated = 0
        self.n_hvp = 0
        self._lambda_max: float | None = None

    def hypergradient(
        self, outer_loss: Loss, inner_loss: Loss, params: Iterable[torch.Tensor]
    ) -> list[torch.Tensor]:
        """Compute the (clipped) hypergradient with this optimiser's settings, without stepping.

        Raises:
            HypergradientDivergenceError: On divergence unless ``on_divergence="truncate"``, and for a non-finite
                hypergradient.
        """
        reuse = (
            self.method == "neumann" and self._lambda_max is not None and self.n_steps % self.lambda_max_every
        )
        grads, info = compute(
            outer_loss,
            inner_loss,
            params,
            self.hparams,
            method=self.method,
            terms=self.terms,
            alpha=self.alpha,
            max_iter=self.max_iter,
            tol=self.tol,
            damping=self.damping,
            on_divergence="truncate" if self.on_divergence == "truncate" else "raise",
            check_alpha=True,
            lanczos_iters=self.lanczos_iters,
            max_exact_params=self.max_exact_params,
            lambda_max=self._lambda_max if reuse else None,
        )
        if info.lambda_max is not None:
            self._lambda_max = info.lambda_max
        self.last_info = info
        self.n_truncated += info.diverged
        self.n_hvp += info.n_hvp
        # One pass over the (possibly millions of) entries serves both the finiteness check and clipping.
        total = math.sqrt(sum(float(n) ** 2 for n in torch._foreach_norm(grads)))
        if not math.isfinite(total):
            raise _NonFiniteHypergradient(f"non-finite hypergradient (norm {total})")
        if self.clip_norm is not None and total > self.clip_norm:
            grads = [g * (self.clip_norm / total) for g in grads]
        return grads

    def step(
        self, outer_loss: Loss, inner_loss: Loss, params: Iterable[torch.Tensor]
    ) -> list[torch.Tensor] | None:
        """One hyper-step: hypergradient at the current ``params``, written to ``.grad``, then ``optimizer.step()``.

        Args:
            outer_loss: Zero-argument callable returning the validation loss (on a validation minibatch).
            inner_loss: Zero-argument callable returning the training loss (on a training minibatch).
            params: The model parameters ``w``, after the ordinary training steps (warm-started).

        Returns:
            The hypergradients applied, or ``None`` when the step was skipped.
        """
        self.n_steps += 1
        try:
            grads = self.hypergradient(outer_loss, inner_loss, params)
        except HypergradientDivergenceError as err:
            if self.on_divergence == "raise" and not isinstance(err, _NonFiniteHypergradient):
                raise
            warnings.warn(f"hyper-step {self.n_steps} skipped: {err}", RuntimeWarning, stacklevel=2)
            self.n_skipped += 1
            return None
        for h, g in zip(self.hparams, grads, strict=True):
            h.grad = g
        self.optimizer.step()
        return grads
