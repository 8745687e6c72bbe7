"""Driver neighbourhood ISM: saturation ISM of every base within ``DRIVER_FLANK`` bp of a driver, on the
reference background and on the background with the driver's alt allele (exact fast ISM, the alt
background's trunk spliced in like any substitution), and its ``<gene_id>.driver_ism.npz``."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqgx.analysis.motifs.defaults import BASES, DRIVER_FLANK
from seqgx.errors import SeqgxError
from seqgx.genome.reference import ALPHABET
from seqgx.io import atomic_output


@dataclass
class DriverISM:
    """Saturation ISM around one driver on the reference and on the alt-allele background."""

    window_index: np.ndarray  # (W,) 0-based window indices, the driver at the centre
    ref_tokens: np.ndarray  # (W,) uint8 reference background
    alt_tokens: np.ndarray  # (W,) uint8 alt background (the driver's alt at the centre)
    ref_matrix: np.ndarray  # (R, W, 4) readout(mutated) - readout(reference); 0 at the own base
    alt_matrix: np.ndarray  # (R, W, 4) readout(mutated) - readout(alt background)
    ref_value: np.ndarray  # (R,) readouts of the reference
    alt_value: np.ndarray  # (R,) readouts of the alt background


def neighbourhood(window_index: int, flank: int, length: int, what: str = "driver") -> np.ndarray:
    """Window indices ``wi - flank .. wi + flank``; one-line error when they leave the window."""
    wi = int(window_index)
    if wi - flank < 0 or wi + flank >= length:
        raise SeqgxError(f"{what} at window index {wi} lies within {flank} bp of the end of the {length}-bp "
                         f"window; its neighbourhood ISM needs {flank} bp each side")
    return np.arange(wi - flank, wi + flank + 1, dtype=np.int64)


def _spliced_background(engine: Any, wi: int, alt: int) -> Any:
    """A copy of a :class:`~seqgx.model.attribution.FastISM` engine whose reference carries base ``alt``
    at ``wi``: the trunk tokens that base can change are recomputed on a slice and spliced into the
    reference's (the fast-ISM step, exact), so no full trunk runs; substitutions on the copy then
    recompute their own slices from the alt background."""
    import torch
    import torch.nn.functional as F

    rf, res, n, w = engine.rf, engine.rf.resolution, engine.n_tokens, engine.width
    dev = engine.device
    t = wi // res
    s_tok = int(np.clip(t + rf.slice_lo, 0, n - w))
    onehot = engine._ref_onehot.clone()
    onehot[wi] = F.one_hot(torch.tensor(int(alt), device=dev), 4).to(onehot.dtype)
    u = np.arange(t + rf.affect_lo, t + rf.affect_hi + 1)
    u = u[(u >= 0) & (u < n)]
    with torch.no_grad():
        sliced = engine.split.trunk(onehot[s_tok * res:(s_tok + w) * res][None])[0]
        trunk = engine._ref_trunk.clone()
        trunk[0, torch.from_numpy(u).to(dev)] = sliced[torch.from_numpy(u - s_tok).to(dev)].to(trunk.dtype)
        output = engine.split.tail(trunk)[0].cpu().numpy()
    eng = copy.copy(engine)
    tokens = np.array(engine._ref_tokens, dtype=np.uint8, copy=True)
    tokens[wi] = alt
    eng._ref_tokens, eng._ref_onehot, eng._ref_trunk, eng.reference_output = tokens, onehot, trunk, output
    return eng


def _saturation_block(background: np.ndarray, positions: np.ndarray, readouts: Any, *,
                      engine: Any = None, outputs: Callable | None = None,
                      desc: str = "driver ISM") -> tuple[np.ndarray, np.ndarray]:
    """(R, P, 4) saturation ISM at ``positions`` of ``background`` and the background's readouts (R,):
    with a fast engine whose reference IS ``background``, or through ``outputs`` (full forward)."""
    from seqgx.model.attribution import (
        full_ism_outputs,
        saturation_matrix,
        saturation_substitutions,
        substitute,
    )

    sub_wi, sub_alt = saturation_substitutions(background, positions)
    if engine is not None:
        base_out, out = engine.reference_output, engine.outputs(sub_wi, sub_alt, desc=desc)
    else:
        base_out, out = full_ism_outputs(outputs, background, substitute(background, sub_wi, sub_alt),
                                         len(sub_wi))
    base = readouts.compute(np.asarray(base_out)[None])
    return saturation_matrix(positions, sub_wi, sub_alt, readouts.compute(out) - base), base[0]


def driver_neighbourhood_ism(reference: np.ndarray, window_index: Sequence[int], alt: Sequence[int],
                             readouts: Any, *, engine: Any = None, outputs: Callable | None = None,
                             flank: int = DRIVER_FLANK) -> list[DriverISM]:
    """Saturation ISM of every base within ``flank`` bp of each driver, on the reference and on the
    reference with that driver's alt allele (41 x 4 per background with the default flank).

    ``reference`` (L,) uint8 tokens; ``window_index`` / ``alt`` (alt token 0-3) per driver; ``readouts`` a
    :class:`~seqgx.model.attribution.ReadoutSet`. Fast path: ``engine`` a
    :class:`~seqgx.model.attribution.FastISM` (its reference is set here). Otherwise ``outputs``
    (``Predictor.outputs`` contract) runs every mutated sequence through the whole model.
    """
    ref = np.asarray(reference, dtype=np.uint8)
    wis = [int(w) for w in window_index]
    alts = [int(a) for a in alt]
    hoods = [neighbourhood(w, flank, len(ref)) for w in wis]
    for w, a in zip(wis, alts, strict=True):
        if not 0 <= a <= 3 or a == ref[w]:
            raise SeqgxError(f"driver at window index {w}: alt token {a} is not a base other than the "
                             f"reference's {ALPHABET[ref[w]]}")
    if engine is None and outputs is None:
        raise SeqgxError("driver neighbourhood ISM needs a fast-ISM engine or a model's outputs")
    if not wis:
        return []
    if engine is not None:
        engine.set_reference(ref)
    # Reference background: all drivers' positions in one pass (shared positions computed once).
    union = np.unique(np.concatenate(hoods))
    ref_all, ref_value = _saturation_block(ref, union, readouts, engine=engine, outputs=outputs,
                                           desc="driver ISM (reference)")
    results = []
    for w, a, hood in zip(wis, alts, hoods, strict=True):
        bg = ref.copy()
        bg[w] = a
        eng = _spliced_background(engine, w, a) if engine is not None else None
        alt_m, alt_value = _saturation_block(bg, hood, readouts, engine=eng, outputs=outputs,
                                             desc="driver ISM (alt)")
        rows = np.searchsorted(union, hood)
        results.append(DriverISM(window_index=hood, ref_tokens=ref[hood].copy(), alt_tokens=bg[hood].copy(),
                                 ref_matrix=ref_all[:, rows], alt_matrix=alt_m, ref_value=ref_value,
                                 alt_value=alt_value))
    return results


def write_driver_ism(path: str | Path, gene: Any, readouts: Sequence[str], variant_ids: Sequence[str],
                     blocks: Sequence[DriverISM], flank: int = DRIVER_FLANK) -> Path:
    """``<gene_id>.driver_ism.npz`` (keys in docs/motifs.md), written atomically."""
    r, w = len(readouts), 2 * flank + 1
    d = len(blocks)

    def stack(attr: str, shape: tuple, dtype: Any) -> np.ndarray:
        return (np.stack([getattr(b, attr) for b in blocks]).astype(dtype) if d
                else np.zeros((0, *shape), dtype=dtype))

    wi = np.array([int(b.window_index[flank]) for b in blocks], dtype=np.int64)
    ref_value = blocks[0].ref_value if d else np.full(r, np.nan)
    path = Path(path)
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh, gene_id=np.array(str(gene.gene_id)), tss=np.array(int(gene.tss), dtype=np.int64),
            readouts=np.array([str(x) for x in readouts]) if r else np.zeros(0, "<U1"),
            bases=np.array(list(BASES)), flank=np.array(flank, dtype=np.int64),
            offsets=np.arange(-flank, flank + 1, dtype=np.int64),
            variant_id=np.array([str(v) for v in variant_ids]) if d else np.zeros(0, "<U1"),
            pos=(int(gene.window_start) + wi + 1).astype(np.int64), window_index=wi,
            ref_tokens=stack("ref_tokens", (w,), np.uint8), alt_tokens=stack("alt_tokens", (w,), np.uint8),
            ref_matrix=stack("ref_matrix", (r, w, 4), np.float32),
            alt_matrix=stack("alt_matrix", (r, w, 4), np.float32),
            ref_value=np.asarray(ref_value, dtype=np.float64), alt_value=stack("alt_value", (r,), np.float64))
    return path
