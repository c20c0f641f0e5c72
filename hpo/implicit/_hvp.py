"""Hessian-vector products and the mixed VJP on one retained training-gradient graph.

Notation (papers.md §4): ``w`` the parameters, ``lam`` the hyperparameters, ``L_T(lam, w)`` the training loss,
``g = dL_T/dw``, ``H = d^2 L_T / dw dw^T``. Vectors are tensor lists shaped like ``w`` (see ``_vectors``).

Why one graph: the paper's Alg. 2 builds ``g`` with ``create_graph=True`` once. Every ``H v`` is then a single
backward pass through that graph (double backward, ``retain_graph=True``), and the mixed term
``v^T d^2 L_T / dw dlam`` is one more backward pass through the *same* graph into ``lam``. Rebuilding the graph per
product would add a forward and a backward pass to each of them. Memory stays O(#params + #hparams): the graph
is the usual training graph plus its gradient graph, and no product stores anything that outlives it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from hpo.implicit._vectors import TensorList, axpy_


class TrainingGradientOperator:
    """The linear operators ``v -> (H + damping I) v`` and ``v -> v^T d^2 L_T / dw dlam`` at the current ``w``.

    Args:
        inner_loss_value: The scalar training loss ``L_T``, already computed with autograd recording.
        params: The parameters ``w`` that ``L_T`` is minimised over.
        hparams: The hyperparameters ``lam``.
        damping: ``epsilon >= 0`` added to the Hessian's diagonal, the usual safeguard against an indefinite or
            singular Hessian of a non-convex training loss.
    """

    def __init__(
        self,
        inner_loss_value: torch.Tensor,
        params: Sequence[torch.Tensor],
        hparams: Sequence[torch.Tensor],
        *,
        damping: float = 0.0,
    ) -> None:
        self.params = list(params)
        self.hparams = list(hparams)
        self.damping = float(damping)
        self.n_hvp = 0
        grads = torch.autograd.grad(inner_loss_value, self.params, create_graph=True, allow_unused=True)
        # A parameter the loss ignores, or one it enters only linearly, has a gradient with no graph: its
        # Hessian rows are zero and it is left out of every backward pass.
        self._live = [i for i, gi in enumerate(grads) if gi is not None and gi.requires_grad]
        self._grads = [grads[i] for i in self._live]
        self._released = False

    def hvp(self, v: Sequence[torch.Tensor]) -> TensorList:
        """Return ``(H + damping I) v`` as a new tensor list (one double-backward pass)."""
        self._check_alive()
        self.n_hvp += 1
        hv: Sequence[torch.Tensor | None] = [None] * len(self.params)
        if self._grads:
            hv = torch.autograd.grad(
                self._grads,
                self.params,
                grad_outputs=[v[i] for i in self._live],
                retain_graph=True,
                allow_unused=True,
            )
        out = [
            h.detach() if h is not None else torch.zeros_like(p) for h, p in zip(hv, self.params, strict=True)
        ]
        if self.damping:
            axpy_(out, self.damping, v)
        return out

    def mixed_vjp(self, v: Sequence[torch.Tensor], *, release: bool = True) -> TensorList:
        """Return ``v^T d^2 L_T / dw dlam``, one tensor per hyperparameter (zeros where ``lam`` is unused).

        Args:
            v: A tensor list shaped like the parameters (the approximate ``H^{-1} dL_V/dw``).
            release: Free the retained graph afterwards (the last use in a hypergradient).
        """
        self._check_alive()
        mixed: Sequence[torch.Tensor | None] = [None] * len(self.hparams)
        if self._grads:
            mixed = torch.autograd.grad(
                self._grads,
                self.hparams,
                grad_outputs=[v[i] for i in self._live],
                retain_graph=not release,
                allow_unused=True,
            )
        out = [
            m.detach() if m is not None else torch.zeros_like(h)
            for m, h in zip(mixed, self.hparams, strict=True)
        ]
        if release:
            self.release()
        return out

    def release(self) -> None:
        """Drop the references to the gradient graph so that its memory is freed."""
        self._grads = []
        self._released = True

    def _check_alive(self) -> None:
        if self._released:
            raise RuntimeError(
                "the training-gradient graph was released; build a new TrainingGradientOperator"
            )

    def dense_hessian(self) -> torch.Tensor:
        """Return the dense ``(n, n)`` matrix ``H + damping I`` with ``n = #params`` (small problems only).

        All ``n`` products run as one vmapped backward pass (``is_grads_batched``); operators without a batching
        rule fall back to one product per column.
        """
        self._check_alive()
        sizes = [p.numel() for p in self.params]
        n = sum(sizes)
        ref = self.params[0]
        eye = torch.eye(n, dtype=ref.dtype, device=ref.device)
        columns = [
            c.reshape(n, *p.shape) for c, p in zip(torch.split(eye, sizes, dim=1), self.params, strict=True)
        ]
        try:
            hv = torch.autograd.grad(
                self._grads,
                self.params,
                grad_outputs=[columns[i] for i in self._live],
                retain_graph=True,
                allow_unused=True,
                is_grads_batched=True,
            )
            blocks = [
                h.reshape(n, -1) if h is not None else torch.zeros(n, s, dtype=ref.dtype, device=ref.device)
                for h, s in zip(hv, sizes, strict=True)
            ]
            hessian = torch.cat(blocks, dim=1).detach()
            self.n_hvp += n
        except RuntimeError:  # pragma: no cover - depends on torch's vmap coverage of the user's ops
            rows = []
            for k in range(n):
                rows.append(torch.cat([h.reshape(-1) for h in self.hvp([c[k] for c in columns])]))
            return torch.stack(rows)
        if self.damping:
            hessian.diagonal().add_(self.damping)
        return hessian
