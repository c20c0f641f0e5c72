"""Vector arithmetic on lists of tensors ("tensor lists").

Shape rule: a *vector* here is a list of tensors with the shapes of the model parameters ``w``; it is never
flattened or concatenated. Working on the parameters' own tensors avoids a 1M-element copy per Hessian-vector
product and lets every update run as one ``torch._foreach_*`` call instead of a Python loop over tensors.
Reductions (dot products, norms) return Python floats: the solvers branch on them, and on the CPU the
synchronisation this implies is free.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

TensorList = list[torch.Tensor]


def dot(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    """Euclidean inner product of two tensor lists, accumulated in float64."""
    total = 0.0
    for x, y in zip(a, b, strict=True):
        total += float(torch.dot(x.reshape(-1), y.reshape(-1)))
    return total


def norm(a: Sequence[torch.Tensor]) -> float:
    """Euclidean norm of a tensor list."""
    norms = torch._foreach_norm(list(a))
    return float(torch.stack([n.double() for n in norms]).norm()) if norms else 0.0


def clone(a: Sequence[torch.Tensor]) -> TensorList:
    """Detached copies, so that in-place updates never touch autograd's saved tensors."""
    return [x.detach().clone() for x in a]


def zeros_like(a: Sequence[torch.Tensor]) -> TensorList:
    """A zero vector with the shapes, dtypes and devices of ``a``."""
    return [torch.zeros_like(x) for x in a]


def axpy_(y: TensorList, alpha: float, x: Sequence[torch.Tensor]) -> TensorList:
    """``y += alpha * x`` in place; returns ``y``."""
    torch._foreach_add_(y, list(x), alpha=alpha)
    return y


def scale_(y: TensorList, alpha: float) -> TensorList:
    """``y *= alpha`` in place; returns ``y``."""
    torch._foreach_mul_(y, alpha)
    return y


def xpby_(y: TensorList, x: Sequence[torch.Tensor], beta: float) -> TensorList:
    """``y = x + beta * y`` in place (the CG direction update); returns ``y``."""
    torch._foreach_mul_(y, beta)
    torch._foreach_add_(y, list(x))
    return y
