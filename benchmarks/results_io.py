"""Reading, merging and writing the benchmarks' result files (shared by the benchmark scripts).

Why a module of its own: every benchmark writes its raw runs to the git-ignored ``benchmarks/results/`` and re-prints
its tables from there (``--report-only``). A new machine starts without that folder, so the tables quoted in the
README could not be re-printed once the machine that ran them was gone (this happened in session 11). The scripts
therefore write the runs a table was printed from into the committed ``benchmarks/stored/`` as well (``--store``),
in the form below: one run per line, so a file stays small and a rerun of one run changes one line of the diff.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["save_runs", "merge_runs", "read_files", "read_merged", "keep_runs"]

Run = dict[str, Any]


def save_runs(
    path: Path, meta: Mapping[str, Any], runs: Sequence[Run], *, one_run_per_line: bool = False
) -> None:
    """Write ``{"meta": meta, "runs": runs}`` to ``path`` atomically (a crash mid-write leaves the previous file).

    ``one_run_per_line``: the committed form (compact JSON, one run per line); otherwise indented JSON, the form
    written after every run of a benchmark."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    if one_run_per_line:
        lines = [json.dumps(r, separators=(",", ":")) for r in runs]
        text = '{"meta": ' + json.dumps(dict(meta)) + ',\n"runs": [\n' + ",\n".join(lines) + "\n]}\n"
    else:
        text = json.dumps({"meta": dict(meta), "runs": list(runs)}, indent=1)
    tmp.write_text(text)
    os.replace(tmp, path)


def merge_runs(
    files: Sequence[Mapping[str, Any]], key: Callable[[Run], Hashable], *, keep: str = "last"
) -> tuple[list[Run], dict[str, Any]]:
    """The runs of several loaded result files, one per ``key`` (e.g. method, problem and seed), and the files'
    ``meta["sessions"]`` lines, in order.

    ``keep="last"``: a later file's run replaces an earlier one (a rerun corrects a stored run; bench_samplers and
    bench_multifidelity). ``keep="first"``: the first file's run stays (the file named by ``--out`` is the
    reference and ``--merge`` files only fill gaps; bench_constrained and bench_highdim). Runs keep the order in
    which their key first appeared.

    Raises:
        ValueError: ``keep`` is neither "last" nor "first".
    """
    if keep not in ("last", "first"):
        raise ValueError(f"keep={keep!r} must be 'last' or 'first'")
    by_key: dict[Hashable, Run] = {}
    sessions: list[str] = []
    for data in files:
        sessions += list(data.get("meta", {}).get("sessions", []))
        for r in data["runs"]:
            k = key(r)
            if keep == "last" or k not in by_key:
                by_key[k] = r
    return list(by_key.values()), {"sessions": sessions}


def read_files(first: Path, others: str | Sequence[Path] = ()) -> list[dict[str, Any]]:
    """The loaded result files ``first`` and ``others`` (paths, or one comma-separated string of them, as a
    ``--merge`` option gives them), in that order.

    Raises:
        FileNotFoundError: a file does not exist (the message names it).
    """
    paths = [Path(first)] + (
        [Path(p) for p in others.split(",") if p.strip()]
        if isinstance(others, str)
        else [Path(p) for p in others]
    )
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"result file {str(p)!r} does not exist")
    return [json.loads(p.read_text()) for p in paths]


def read_merged(
    first: Path, others: str | Sequence[Path], key: Callable[[Run], Hashable], *, keep: str = "last"
) -> tuple[list[Run], dict[str, Any]]:
    """:func:`merge_runs` of the files :func:`read_files` loads (same arguments, same errors)."""
    return merge_runs(read_files(first, others), key, keep=keep)


def keep_runs(runs: Sequence[Run], field: str, values: str | None, kind: type = str) -> list[Run]:
    """The runs whose ``field`` is one of the comma-separated ``values`` (read as ``kind``, e.g. ``int`` for seeds), as
    a ``--methods`` or ``--seeds`` option gives them; every run for None or an empty string."""
    if not values:
        return list(runs)
    wanted = {kind(v.strip()) for v in values.split(",") if v.strip()}
    return [r for r in runs if r[field] in wanted]
