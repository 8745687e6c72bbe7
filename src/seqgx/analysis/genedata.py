"""The per-gene report data `seqgx stats` writes beside its tables (``<batch>.genedata.npz``)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqgx.io import atomic_output

FORMAT_VERSION = 1
SUFFIX = ".genedata.npz"
#: Key of ``genes.attrs`` that carries a batch's records from ``assess_batch`` to ``write_batch``.
ATTR = "seqgx_genedata"


class GeneDataBatch(list):
    """The records of one batch (a list of :func:`gene_record` dicts). Kept in ``DataFrame.attrs``, which
    pandas deep-copies on every operation: copying returns the same object, the records are read-only."""

    def __deepcopy__(self, memo: dict) -> GeneDataBatch:
        return self


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        return {}


def forward_curve(ism: np.ndarray, dosage: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Forward selection in |ISM| order (``docs/methods.md``, "Driver SNVs"): frac_i = R(a_i, prediction)
    / R(a_V, prediction) for i = 1..V, a_i the sum of ISM x dosage over the first i SNVs. An undefined
    prefix R counts as 0; all NaN when R(a_V, prediction) is 0 or undefined. Inputs already restricted to
    the samples the statistics use; a NaN ISM counts as 0."""
    ism = np.nan_to_num(np.asarray(ism, dtype=float), nan=0.0)
    d = np.asarray(dosage)
    pred = np.asarray(prediction, dtype=float)
    v = d.shape[0]
    if v == 0 or pred.shape[0] < 3:
        return np.full(v, np.nan)
    order = np.argsort(-np.abs(ism), kind="stable")
    terms = d[order] - d[order].mean(axis=1, dtype=float, keepdims=True)
    terms *= ism[order, None]
    pc = pred - pred.mean()
    pn = float(np.sqrt(np.einsum("i,i->", pc, pc)))  # not a BLAS ddot: the same bits on every CPU
    cov = np.cumsum(np.einsum("ij,j->i", terms, pc))
    own_ss = np.cumsum(np.einsum("ij,ij->i", terms, terms))
    np.cumsum(terms, axis=0, out=terms)
    ss = np.einsum("ij,ij->i", terms, terms)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(ss > 1e-20 * own_ss, cov / (np.sqrt(ss) * pn), np.nan)
    r = np.clip(r, -1.0, 1.0)
    if not pn > 0 or not np.isfinite(r[-1]) or r[-1] == 0:
        return np.full(v, np.nan)
    return np.where(np.isfinite(r), r / r[-1], 0.0)


def gene_record(gh: Any, readouts: Sequence[str], person: np.ndarray, observed: np.ndarray | None,
                ism: dict[str, np.ndarray] | None, grads: dict[str, np.ndarray] | None,
                drivers: pd.DataFrame, reference_json: Path | None = None,
                covariates: np.ndarray | None = None) -> dict[str, Any]:
    """What the gene pages plot for one gene (arrays in the haplotypes' sample and variant order).

    ``person`` (S, R) predictions; ``observed`` (S,) or None; ``ism`` / ``grads``: readout -> (V,);
    ``drivers``: the gene's rows of drivers.tsv (their ``is_main`` picks the main driver per readout);
    ``covariates`` (S, k) or None: the eQTL is the partial regression on them, as in drivers.tsv."""
    from seqgx.analysis.stats import eqtl, partial_eqtl

    s, v, n_r = int(gh.n_samples), int(gh.n_variants), len(readouts)
    obs = np.full(s, np.nan) if observed is None else np.asarray(observed, dtype=float)
    dosage = np.asarray(gh.dosage)
    ok = np.isfinite(obs)
    if covariates is not None:
        ok &= np.all(np.isfinite(covariates), axis=1)
    if v and ok.sum() >= 3 and covariates is not None:
        slope, p, _ = partial_eqtl(dosage[:, ok], obs[ok], covariates[ok])
    elif v and ok.sum() >= 3:
        slope, p, _ = eqtl(dosage[:, ok], obs[ok])
    else:
        slope, p = np.full(v, np.nan), np.full(v, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        carriers = (dosage[:, ok] > 0).sum(axis=1) / ok.sum() if v else np.zeros(0)
    ism_m = np.full((v, n_r), np.nan)
    grad_m = np.full((v, n_r), np.nan)
    frac_m = np.full((v, n_r), np.nan)
    main = np.full((s, n_r), -1, dtype=np.int8)
    vid = gh.variants["variant_id"].astype(str).tolist()
    index = {x: i for i, x in enumerate(vid)}
    for k, readout in enumerate(readouts):
        if ism and readout in ism:
            ism_m[:, k] = ism[readout]
            keep = ok & np.isfinite(person[:, k])
            frac_m[:, k] = forward_curve(ism[readout], dosage[:, keep], person[keep, k])
        if grads and readout in grads:
            grad_m[:, k] = grads[readout]
        if len(drivers):
            hit = drivers[(drivers["readout"] == readout) & drivers["is_main"].astype(bool)]
            if len(hit) and str(hit["variant_id"].iloc[0]) in index:
                main[:, k] = dosage[index[str(hit["variant_id"].iloc[0])]]
    ref = _json(reference_json) if reference_json is not None else {}
    reference = ref.get("reference") or {}
    return {
        "gene_id": str(gh.gene_id), "gene_name": str(gh.gene_name), "chrom": str(gh.chrom),
        "strand": str(gh.strand), "tss": int(gh.tss), "window_start": int(gh.window_start),
        "window_length": int(gh.window_length), "readouts": [str(r) for r in readouts],
        "reference": [float(reference.get(r, math.nan)) for r in readouts],
        "n_distinct_haplotypes": int(gh.n_distinct),
        "dedup_ratio": 2 * s / gh.n_distinct if gh.n_distinct else math.nan,
        "counts": dict(gh.counts),
        "samples": [str(x) for x in gh.samples], "observed": obs, "prediction": np.asarray(person, float),
        "main_dosage": main, "pos": gh.variants["pos"].to_numpy(np.int64),
        "ref": gh.variants["ref"].astype(str).to_numpy(), "alt": gh.variants["alt"].astype(str).to_numpy(),
        "allele_frequency": gh.variants["allele_frequency"].to_numpy(float), "carrier_fraction": carriers,
        "eqtl_slope": slope, "eqtl_p": p, "ism": ism_m, "gradient": grad_m, "forward_frac": frac_m,
    }


def _union(lists: Sequence[Sequence[str]]) -> list[str]:
    return list(dict.fromkeys(x for items in lists for x in items))


def write_genedata(records: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """A batch's :func:`gene_record`\\ s as one ``.npz`` (numbers and fixed-width strings only, so
    ``np.load(path, allow_pickle=False)`` reads it). Genes' people and SNVs are concatenated; gene g owns
    rows ``sample_offsets[g]:sample_offsets[g + 1]`` and ``variant_offsets[g]:variant_offsets[g + 1]``."""
    readouts = _union([r["readouts"] for r in records])
    samples = _union([r["samples"] for r in records])
    count_names = _union([list(r["counts"]) for r in records])
    col = {r: i for i, r in enumerate(readouts)}
    srow = {x: i for i, x in enumerate(samples)}
    n_r = len(readouts)

    def wide(rec: dict[str, Any], key: str, fill: float, dtype: Any) -> np.ndarray:
        src = np.asarray(rec[key])
        out = np.full((src.shape[0], n_r), fill, dtype=dtype)
        out[:, [col[r] for r in rec["readouts"]]] = src
        return out

    def cat(key: str, dtype: Any) -> np.ndarray:
        parts = [np.asarray(r[key], dtype=dtype) for r in records]
        return np.concatenate(parts) if parts else np.zeros(0, dtype)

    def cat_wide(key: str, fill: float, dtype: Any) -> np.ndarray:
        parts = [wide(r, key, fill, dtype) for r in records]
        return np.concatenate(parts) if parts else np.zeros((0, n_r), dtype)

    reference = np.full((len(records), n_r), np.nan)
    for g, r in enumerate(records):
        reference[g, [col[x] for x in r["readouts"]]] = r["reference"]
    arrays: dict[str, np.ndarray] = {
        "format_version": np.int64(FORMAT_VERSION),
        **{k: np.array([str(r[k]) for r in records], dtype=str) for k in ("gene_id", "gene_name", "chrom",
                                                                          "strand")},
        **{k: np.array([r[k] for r in records], dtype=np.int64) for k in ("tss", "window_start",
                                                                          "window_length",
                                                                          "n_distinct_haplotypes")},
        "dedup_ratio": np.array([r["dedup_ratio"] for r in records], dtype=float),
        "readouts": np.array(readouts, dtype=str), "reference": reference,
        "count_names": np.array(count_names, dtype=str),
        "count_values": np.array([[r["counts"].get(c, 0) for c in count_names] for r in records],
                                 dtype=np.int64).reshape(len(records), len(count_names)),
        "samples": np.array(samples, dtype=str),
        "sample_offsets": np.cumsum([0] + [len(r["samples"]) for r in records]).astype(np.int64),
        "sample_index": np.array([srow[x] for r in records for x in r["samples"]], dtype=np.int32),
        "observed": cat("observed", np.float32),
        "prediction": cat_wide("prediction", np.nan, np.float32),
        "main_dosage": cat_wide("main_dosage", -1, np.int8),
        "variant_offsets": np.cumsum([0] + [len(r["pos"]) for r in records]).astype(np.int64),
        "pos": cat("pos", np.int64), "ref": cat("ref", "<U1"), "alt": cat("alt", "<U1"),
        **{k: cat(k, np.float32) for k in ("allele_frequency", "carrier_fraction", "eqtl_slope", "eqtl_p")},
        **{k: cat_wide(k, np.nan, np.float32) for k in ("ism", "gradient", "forward_frac")},
    }
    path = Path(path)
    with atomic_output(path) as tmp:
        np.savez_compressed(tmp, **arrays)
    return path
