"""Surrogate models behind a common ``fit`` / ``posterior`` interface.

Importing this package stays light; each model imports torch or scikit-learn only when built.
"""

from surrogates.base import GaussianPosterior, NotFittedError, Posterior, QuantilePosterior, Surrogate

__all__ = [
    "Surrogate",
    "Posterior",
    "GaussianPosterior",
    "QuantilePosterior",
    "NotFittedError",
    "make_surrogate",
]

SURROGATES = ("gp",)


def make_surrogate(name: str, *, seed: int | None = None) -> Surrogate:
    """Build a surrogate by its public name.

    Raises:
        ValueError: an unknown name; the message lists the known ones.
    """
    if name == "gp":
        from surrogates.gp import GPSurrogate

        return GPSurrogate(seed=seed)
    raise ValueError(f"surrogate={name!r} is not one of {list(SURROGATES)!r}")
