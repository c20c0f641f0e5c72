"""Surrogate models behind a common ``fit`` / ``posterior`` interface.

Importing this package stays light: ``SURROGATES`` maps each public name to ``"module:Class"`` and the module (with
torch or scikit-learn) is imported only when a model is built.
"""

from __future__ import annotations

import importlib
from typing import Any

from surrogates.base import GaussianPosterior, NotFittedError, Posterior, QuantilePosterior, Surrogate

__all__ = [
    "Surrogate",
    "Posterior",
    "GaussianPosterior",
    "QuantilePosterior",
    "NotFittedError",
    "SURROGATES",
    "make_surrogate",
    "surrogate_class",
]

#: public name -> "module:Class"; every class takes keyword-only options including ``seed``.
SURROGATES: dict[str, str] = {
    "gp": "surrogates.gp:GPSurrogate",
    "cqr": "surrogates.cqr:CQRSurrogate",
    "goucb": "surrogates.goucb:GOUCBSurrogate",
}


def surrogate_class(name: str) -> type[Surrogate]:
    """The class registered under ``name`` (imports its module).

    Raises:
        ValueError: an unknown name; the message lists the known ones.
    """
    if name not in SURROGATES:
        raise ValueError(f"surrogate={name!r} is not one of {sorted(SURROGATES)!r}")
    module, cls = SURROGATES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make_surrogate(name: str, *, seed: int | None = None, **options: Any) -> Surrogate:
    """Build a surrogate by its public name; ``options`` go to its constructor (e.g. the GP's priors).

    Raises:
        ValueError: an unknown name (the message lists the known ones) or an option the surrogate does not take.
    """
    klass = surrogate_class(name)
    try:
        return klass(seed=seed, **options)
    except TypeError as e:
        raise ValueError(f"surrogate_options={options!r} do not fit surrogate {name!r}: {e}") from None
