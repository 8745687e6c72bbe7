"""Covariates of a cohort's expression (tensorQTL / GTEx layout), checked before any model is fitted.

The tensorQTL layout is tab-separated with one row per covariate and one column per sample (first
column header anything, e.g. ``ID``); the transposed layout (one row per sample, one column per
covariate) is accepted too: whichever axis holds more of the expression's sample ids is the sample
axis. Plain or gzip/bgzip.

Every check runs on the samples present in both the file and the expression, since only those enter a
regression: missing or non-numeric values, duplicate names, constant covariates, more covariates than
the samples can carry, and collinear covariates (a singular design matrix gives no unique fit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqgx.errors import SeqgxError
from seqgx.io import compression, require_file

# Cells that mean "missing": refused by name rather than reported as non-numeric.
_NA_STRINGS = {"", "na", "nan", "n/a", "null", "none", "."}
_FIX = "pass a tab-separated table with one row per covariate and one column per sample (tensorQTL)"


@dataclass
class Covariates:
    """Covariate values aligned to the requested samples (rows NaN for samples the file lacks)."""

    names: list[str]
    values: np.ndarray  # (len(samples), k) float64, rows in the order of the samples asked for
    n_missing: int  # how many of the samples asked for the file lacks
    path: Path


def read_covariates(path: str | Path, samples: Sequence[str]) -> Covariates:
    """Read and check a covariates file for ``samples`` (the expression's sample ids, in order)."""
    p = require_file(path, "covariates", _FIX)
    where = f"covariates '{p}'"
    try:
        # All strings, no NA parsing, no header mangling: every cell is checked below with its name.
        raw = pd.read_csv(p, sep="\t", header=None, dtype=str, keep_default_na=False,
                          compression="gzip" if compression(p) else None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SeqgxError(f"{where} is not a tab-separated table ({str(exc).splitlines()[0]}); "
                         f"{_FIX}") from None
    raw = raw.apply(lambda col: col.str.strip())
    col_ids = list(raw.iloc[0, 1:])
    row_ids = list(raw.iloc[1:, 0])
    body = raw.iloc[1:, 1:].to_numpy(dtype=object)
    wanted = set(map(str, samples))
    in_cols, in_rows = sum(c in wanted for c in col_ids), sum(r in wanted for r in row_ids)
    if in_cols == 0 and in_rows == 0:
        raise SeqgxError(f"{where}: no sample id of the expression (e.g. '{next(iter(samples), '')}') is "
                         f"in its header or first column; columns or first column must be the "
                         f"expression's sample ids")
    # More matches wins; a tie keeps tensorQTL's layout (covariates as rows).
    if in_cols >= in_rows:
        names, file_samples, cells = row_ids, col_ids, body  # (k, samples in file)
    else:
        names, file_samples, cells = col_ids, row_ids, body.T
    if not names:
        raise SeqgxError(f"{where} has no covariates; add one row per covariate or drop the file")
    dup_names = pd.Index(names)[pd.Index(names).duplicated()]
    if len(dup_names):
        raise SeqgxError(f"{where} names covariate '{dup_names[0]}' more than once; keep one row per "
                         f"covariate (rename or drop the repeat)")
    matched = [s for s in file_samples if s in wanted]
    dup_samples = pd.Index(matched)[pd.Index(matched).duplicated()]
    if len(dup_samples):
        raise SeqgxError(f"{where} names sample '{dup_samples[0]}' more than once; keep one value per "
                         f"sample (drop the repeat)")
    col_of = {s: j for j, s in enumerate(file_samples) if s in wanted}
    present = [s for s in map(str, samples) if s in col_of]  # expression order
    sub = cells[:, [col_of[s] for s in present]]  # (k, n) strings
    matrix = np.empty((len(present), len(names)), dtype=np.float64)
    for i, name in enumerate(names):
        for j, s in enumerate(present):
            matrix[j, i] = _number(sub[i, j], where, name, s)

    n, k = len(present), len(names)
    # Too few samples first: with n <= 3 every covariate also looks constant, which is not the cause.
    if k > n - 3:
        raise SeqgxError(f"{where} has {k} covariates but only {n} samples shared with the expression; "
                         f"use at most {max(n - 3, 0)} covariates (k <= n - 3), e.g. fewer PEER "
                         f"factors or PCs")
    for i, name in enumerate(names):
        if np.ptp(matrix[:, i]) == 0:
            raise SeqgxError(f"{where} covariate '{name}' is constant ({matrix[0, i]:g}) over the {n} "
                             f"samples shared with the expression; drop it (the intercept covers it)")
    _check_rank(matrix, names, where, n)

    values = np.full((len(samples), k), np.nan, dtype=np.float64)
    pos = {s: j for j, s in enumerate(present)}
    for r, s in enumerate(map(str, samples)):
        if s in pos:
            values[r] = matrix[pos[s]]
    n_missing = sum(str(s) not in pos for s in samples)
    return Covariates(names=list(names), values=values, n_missing=n_missing, path=p)


def _number(cell: object, where: str, name: str, sample: str) -> float:
    text = "" if pd.isna(cell) else str(cell)  # a short row reads as missing cells
    if text.lower() in _NA_STRINGS:
        raise SeqgxError(f"{where} covariate '{name}' is NA for sample '{sample}'; impute or drop it")
    try:
        value = float(text)
    except ValueError:
        raise SeqgxError(f"{where} covariate '{name}' has non-numeric value '{text}' for sample "
                         f"'{sample}'; encode categorical covariates as numbers yourself (e.g. sex as "
                         f"0/1, one 0/1 column per extra category)") from None
    if not np.isfinite(value):
        raise SeqgxError(f"{where} covariate '{name}' is '{text}' (not finite) for sample '{sample}'; "
                         f"use a finite number")
    return value


def _check_rank(matrix: np.ndarray, names: list[str], where: str, n: int) -> None:
    """Refuse a rank-deficient design [1, C], naming one covariate the others (and 1) explain."""
    # Standardising is a column operation with the intercept (rank unchanged) and keeps
    # matrix_rank's relative tolerance meaningful when covariates differ in scale (age vs PCs).
    z = (matrix - matrix.mean(axis=0)) / matrix.std(axis=0)
    design = np.column_stack([np.ones(n), z])
    rank = int(np.linalg.matrix_rank(design))
    k = len(names)
    if rank == k + 1:
        return
    # A column whose removal keeps the rank lies in the span of the others; scan from the last one
    # (the later-added covariate is usually the redundant one).
    culprit = next((names[i] for i in reversed(range(k))
                    if np.linalg.matrix_rank(np.delete(design, i + 1, axis=1)) == rank), None)
    which = (f"covariate '{culprit}' is a linear combination of the others" if culprit else
             "some covariates are linear combinations of the others")
    raise SeqgxError(f"{where}: the covariates are collinear (rank of [1, covariates] is {rank}, not "
                     f"{k + 1}, over {n} samples); {which}: drop it")


def covariates_summary(c: Covariates) -> dict:
    """What summary.json records about the covariates."""
    return {"names": list(c.names), "k": len(c.names), "n_missing": int(c.n_missing)}
