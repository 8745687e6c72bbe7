"""Readouts: turn a model's (bins x tracks) output for one sequence into one number.

- :class:`TrackReadout`: one track, summed over a set of bins (default the 3 centre bins).
- :class:`FineTunedReadout`: a linear model on ``log2(bin-sum + pseudocount)`` of every track, with
  weights from a CSV in the published format (header ``tracks,weights``; one row per model track in
  output order; a last row ``offset,<intercept>``).

A person's value combines their two haplotype values (sum, or mean).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seqgx.errors import SeqgxError
from seqgx.model.models import centre_bins, sha256_file


@dataclass
class TrackReadout:
    """Sum of one track over ``bins`` (original bin indices)."""

    track: int
    bins: list[int]
    track_name: str = ""
    kind: str = "track"
    specs: list[str] = field(default_factory=list)  # the --tracks values that asked for it (tissues)

    @property
    def name(self) -> str:
        return f"track:{self.track}"

    @property
    def tracks_needed(self) -> list[int]:
        return [self.track]

    def compute(self, out: np.ndarray, bin_pos: dict[int, int], track_pos: dict[int, int]) -> np.ndarray:
        """``out`` (n, bins, tracks) in the layout the positions describe -> (n,) float64."""
        b = [bin_pos[i] for i in self.bins]
        return out[:, b, track_pos[self.track]].astype(np.float64).sum(axis=1)

    def describe(self) -> dict:
        return {"name": self.name, "kind": self.kind, "track": self.track, "track_name": self.track_name,
                "bins": self.bins, "specs": self.specs}


@dataclass
class FineTunedReadout:
    """``sum_t w_t * log2(sum_bins out[bin, t] + pseudocount) + offset`` over the model's tracks."""

    weights: np.ndarray  # (n_tracks,) float64, in model track order
    offset: float
    bins: list[int]
    pseudocount: float = 1.0
    source: str = ""
    sha256: str = ""
    kind: str = "finetuned"
    label: str = "finetuned"  # 'finetuned:<file stem>' when a run has several weights files (tissues)
    nonzero: list[int] = field(init=False)

    def __post_init__(self) -> None:
        if not self.pseudocount > 0:
            raise SeqgxError(f"pseudocount must be > 0 so log2 is finite, got {self.pseudocount}")
        # Tracks with weight 0 add exactly 0 (the log is finite), so only the others are computed.
        self.nonzero = [int(i) for i in np.flatnonzero(self.weights)]

    @property
    def name(self) -> str:
        return self.label

    @property
    def tracks_needed(self) -> list[int]:
        return self.nonzero or [0]

    def compute(self, out: np.ndarray, bin_pos: dict[int, int], track_pos: dict[int, int]) -> np.ndarray:
        if not self.nonzero:
            return np.full(out.shape[0], self.offset, dtype=np.float64)
        b = [bin_pos[i] for i in self.bins]
        t = [track_pos[i] for i in self.nonzero]
        sums = out[:, b][:, :, t].astype(np.float64).sum(axis=1)  # (n, k)
        return np.log2(sums + self.pseudocount) @ self.weights[self.nonzero] + self.offset

    def describe(self) -> dict:
        return {"name": self.name, "kind": self.kind, "weights": self.source, "weights_sha256": self.sha256,
                "n_nonzero_weights": len(self.nonzero), "offset": self.offset,
                "pseudocount": self.pseudocount, "bins": self.bins, "specs": [Path(self.source).name]}


def read_finetuned_weights(path: str | os.PathLike, track_names: Sequence[str]) -> tuple[np.ndarray, float]:
    """Read a weights CSV and check its track list equals ``track_names`` (same order)."""
    p = Path(path)
    if not p.is_file():
        raise SeqgxError(f"fine-tuned weights CSV '{p}' does not exist; pass a 'tracks,weights' CSV")
    with open(p, newline="") as fh:
        rows = [r for r in csv.reader(fh) if r]
    if not rows or [c.strip().lower() for c in rows[0]] != ["tracks", "weights"]:
        raise SeqgxError(f"fine-tuned weights CSV '{p}' must start with the header 'tracks,weights'")
    body = rows[1:]
    if not body or body[-1][0] != "offset":
        raise SeqgxError(f"fine-tuned weights CSV '{p}' must end with a row 'offset,<intercept>'")
    for i, r in enumerate(body, start=2):
        if len(r) != 2:
            raise SeqgxError(f"fine-tuned weights CSV '{p}' line {i} has {len(r)} fields, expected 2 "
                             f"(track,weight); quote track names that contain commas")
    names = [r[0] for r in body[:-1]]
    if len(names) != len(track_names):
        raise SeqgxError(f"fine-tuned weights CSV '{p}' lists {len(names)} tracks but the model has "
                         f"{len(track_names)}; use weights fitted to this model's tracks")
    for i, (a, b) in enumerate(zip(names, track_names, strict=True)):
        if a != b:
            raise SeqgxError(f"fine-tuned weights CSV '{p}' line {i + 2} names track '{a}' but model track "
                             f"{i} is '{b}'; use weights fitted to this model's tracks, in its order")
    try:
        values = np.array([float(r[1]) for r in body], dtype=np.float64)
    except ValueError:
        bad = next(i for i, r in enumerate(body, start=2) if not _is_float(r[1]))
        raise SeqgxError(f"fine-tuned weights CSV '{p}' line {bad} has a non-numeric weight "
                         f"'{body[bad - 2][1]}'; fix that value") from None
    if not np.all(np.isfinite(values)):
        raise SeqgxError(f"fine-tuned weights CSV '{p}' has non-finite weights; fix them")
    return values[:-1], float(values[-1])


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def load_finetuned_readout(path: str | os.PathLike, track_names: Sequence[str], bins: list[int],
                           pseudocount: float = 1.0, label: str = "finetuned") -> FineTunedReadout:
    weights, offset = read_finetuned_weights(path, track_names)
    return FineTunedReadout(weights, offset, bins, pseudocount, str(path), sha256_file(path), label=label)


def finetuned_labels(paths: Sequence[str | os.PathLike]) -> list[str]:
    """Readout ids of fine-tuned weights files: 'finetuned' for one file (as always), 'finetuned:<file
    stem>' for each of several (a run with tissues fine-tuned apart)."""
    if len(paths) <= 1:
        return ["finetuned"] * len(paths)
    stems = [Path(p).name.removesuffix(".csv") for p in paths]
    dup = [s for s in stems if stems.count(s) > 1]
    if dup:
        raise SeqgxError(f"fine-tuned weights files share the name '{dup[0]}.csv'; give each tissue's "
                         f"weights a distinct file name (the readout is named after it)")
    return [f"finetuned:{s}" for s in stems]


def readouts_of_specs(specs: Sequence[str], track_names: Sequence[str],
                      default: Sequence[str]) -> list[tuple[int, list[str]]]:
    """Track indices that ``specs`` (indices, exact names, or 'default' for ``default``) ask for, in
    order, each with the specs that asked for it (recorded so a tissue finds its readouts)."""
    asked: dict[int, list[str]] = {}
    for spec in specs:
        expanded = list(default) if str(spec).strip().lower() == "default" else [spec]
        for track in resolve_tracks(expanded, track_names):
            asked.setdefault(track, []).append(str(spec).strip())
    return list(asked.items())


def resolve_tracks(specs: Sequence[str | int], track_names: Sequence[str]) -> list[int]:
    """Track indices from indices or exact names (a value may also be a comma list)."""
    n = len(track_names)
    by_name: dict[str, list[int]] = {}
    for i, name in enumerate(track_names):
        by_name.setdefault(name, []).append(i)
    out: list[int] = []
    for spec in specs:
        spec = str(spec).strip()
        parts = [spec] if spec in by_name else [s.strip() for s in spec.split(",") if s.strip()]
        for part in parts:
            if part.lstrip("-").isdigit():
                i = int(part)
                if not 0 <= i < n:
                    raise SeqgxError(f"track index {i} is out of range: the model has {n} tracks "
                                     f"(0..{n - 1}); choose an index in that range")
                out.append(i)
            elif part in by_name:
                if len(by_name[part]) > 1:
                    raise SeqgxError(f"track name '{part}' is ambiguous (tracks "
                                     f"{', '.join(map(str, by_name[part][:5]))}); give the track index")
                out.append(by_name[part][0])
            else:
                raise SeqgxError(f"unknown track '{part}': not an index or a track name of this model; "
                                 f"see the track names TSV (e.g. 4980 = 'CAGE:brain; adult;')")
    return list(dict.fromkeys(out))


def parse_bins(spec: str | None, n_bins: int) -> list[int]:
    """Bins from 'centre:K' (default K=3), 'A-B' (inclusive), 'a,b,c' or 'all'."""
    spec = (spec or "centre:3").strip().lower()
    try:
        if spec == "all":
            out = list(range(n_bins))
        elif spec.startswith(("centre", "center")):
            k = int(spec.split(":", 1)[1]) if ":" in spec else 3
            out = centre_bins(n_bins, k)
        elif "-" in spec and "," not in spec:
            a, b = (int(x) for x in spec.split("-", 1))
            out = list(range(a, b + 1))
        else:
            out = [int(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise SeqgxError(f"bins '{spec}' not understood; use 'centre:3', '447-449', '447,448' "
                         f"or 'all'") from None
    bad = [b for b in out if not 0 <= b < n_bins]
    if not out or bad:
        raise SeqgxError(f"bins '{spec}' select {'no bins' if not out else f'bin {bad[0]}'} but the model "
                         f"has {n_bins} bins (0..{n_bins - 1}); choose bins in that range")
    return out


def combine_person(hap_values: np.ndarray, how: str = "sum") -> np.ndarray:
    """(S, 2, ...) haplotype values -> (S, ...) person values: their sum (default) or mean."""
    if how == "sum":
        return hap_values.sum(axis=1)
    if how == "mean":
        return hap_values.mean(axis=1)
    raise SeqgxError(f"person combine '{how}' is not supported; use 'sum' or 'mean'")
