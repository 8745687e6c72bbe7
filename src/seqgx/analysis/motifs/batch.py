"""One batch of `seqgx motifs`: its settings (:class:`MotifOptions`), the genes' saturation ISM inputs,
the per-gene work (driver neighbourhood ISM, driver-context statistics, seqlets and their JASPAR
annotation, SNVs and matched controls) and the batch's tables."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqgx.analysis.motifs.annotate import MotifDatabase, annotate_sequences, jaspar_motifs
from seqgx.analysis.motifs.attribution import (
    context_columns,
    context_row,
    driver_context,
    gene_scale,
    per_base_attribution,
)
from seqgx.analysis.motifs.defaults import (
    CONTEXT_FLANK,
    CONTEXT_THRESHOLDS,
    CONTROLS_PER_DRIVER,
    DENOVO_FLANK,
    DRIVER_FLANK,
    MOTIF_SCALE,
    MOTIF_WINDOW,
    SEQLET_MIN_LENGTH,
    SEQLET_SHUFFLES,
    SEQLET_THRESHOLD,
    TOMTOM_SHUFFLES,
    thresholds_for,
)
from seqgx.analysis.motifs.driver_ism import DriverISM, driver_neighbourhood_ism, write_driver_ism
from seqgx.analysis.motifs.seqlets import call_seqlets, seqlet_pvalues
from seqgx.analysis.motifs.tables import (
    DRIVER_COLUMNS,
    SEQLET_COLUMNS,
    SNV_COLUMNS,
    _tristate,
    _write_tsv,
    read_drivers,
    read_gene_r,
)
from seqgx.errors import SeqgxError
from seqgx.genome.reference import ALPHABET
from seqgx.log import get_logger

log = get_logger(__name__)


@dataclass
class MotifOptions:
    """Settings of :func:`motifs_batch` (defaults: the module constants)."""

    scale: str = MOTIF_SCALE
    thresholds: tuple[float, ...] | None = None  # None: CONTEXT_THRESHOLDS[scale]
    all_drivers: bool = False
    flank: int = DRIVER_FLANK
    window: int = MOTIF_WINDOW
    seqlet_threshold: float | None = None  # None: SEQLET_THRESHOLD[scale]
    seqlet_min_length: int = SEQLET_MIN_LENGTH
    seqlet_shuffles: int = SEQLET_SHUFFLES
    tomtom_shuffles: int = TOMTOM_SHUFFLES
    controls: int = CONTROLS_PER_DRIVER
    context_flank: int = CONTEXT_FLANK
    seed: int = 0
    method: str = "fast"
    batch_size: int = 8
    device: str = "cpu"

    def resolved(self) -> MotifOptions:
        thresholds_for(self.scale)
        o = copy.copy(self)
        o.thresholds = tuple(float(t) for t in (self.thresholds or CONTEXT_THRESHOLDS[self.scale]))
        o.seqlet_threshold = float(self.seqlet_threshold if self.seqlet_threshold is not None
                                   else SEQLET_THRESHOLD[self.scale])
        for name, low in (("flank", 1), ("window", 1), ("seqlet_min_length", 1), ("seqlet_shuffles", 1),
                          ("tomtom_shuffles", 0), ("controls", 0), ("context_flank", DENOVO_FLANK)):
            if int(getattr(o, name)) < low:
                raise SeqgxError(f"motif option {name.replace('_', '-')} must be >= {low}, got "
                                 f"{getattr(o, name)}")
        if not o.seqlet_threshold > 0:
            raise SeqgxError(f"the seqlet threshold must be > 0, got {o.seqlet_threshold}")
        return o


@dataclass
class Saturation:
    positions: np.ndarray  # 1-based
    window_index: np.ndarray
    ref: np.ndarray
    matrix: np.ndarray  # (R, P, 4)
    readouts: list[str]
    tss: int


def load_saturation(path: str | Path, gene_id: str) -> Saturation:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            s = Saturation(positions=z["positions"].astype(np.int64),
                           window_index=z["window_index"].astype(np.int64),
                           ref=z["ref"].astype(np.uint8), matrix=z["matrix"].astype(np.float64),
                           readouts=[str(x) for x in z["readouts"]], tss=int(z["tss"]))
    except (ValueError, OSError, KeyError) as exc:
        raise SeqgxError(f"saturation ISM file '{path}' of gene {gene_id} cannot be read ({exc}); re-run "
                         f"'seqgx ism' with --tss-window > 0") from None
    if s.matrix.ndim != 3 or s.matrix.shape != (len(s.readouts), len(s.positions), 4):
        raise SeqgxError(f"saturation ISM file '{path}': matrix of shape {s.matrix.shape} does not match its "
                         f"{len(s.positions)} positions and {len(s.readouts)} readouts; re-run 'seqgx ism'")
    return s


def _context(reference: np.ndarray, wi: int, flank: int, alt: int | None = None) -> str:
    """Sequence ``wi - flank .. wi + flank`` of the window (N beyond its ends), alt at the centre."""
    L = len(reference)
    idx = np.arange(wi - flank, wi + flank + 1)
    tok = np.where((idx >= 0) & (idx < L), reference[np.clip(idx, 0, L - 1)], 4)
    if alt is not None:
        tok = tok.copy()
        tok[flank] = alt
    return "".join(ALPHABET[t] for t in tok)


@dataclass
class BatchTables:
    driver_motifs: pd.DataFrame
    seqlets: pd.DataFrame
    snvs: pd.DataFrame
    driver_ism_files: list[Path]


def _gene_track(sat: Saturation, tss: int, window: int, readout: str) -> tuple[np.ndarray, np.ndarray]:
    """(1-based positions, per-base attribution) of one readout within ``window`` bp of the TSS."""
    keep = np.abs(sat.positions - tss) <= window
    k = sat.readouts.index(readout)
    return sat.positions[keep], per_base_attribution(sat.matrix[k][keep])


def motifs_batch(haplotypes: Sequence[str | Path], ism: Sequence[str | Path], drivers: Sequence[str | Path],
                 readouts: Any, out_dir: str | Path, *, genes: Sequence[str | Path] | None = None,
                 module: Any = None, outputs: Callable | None = None, opts: MotifOptions | None = None,
                 db: MotifDatabase | None = None) -> BatchTables:
    """Driver neighbourhood ISM, driver-context statistics, seqlets and their annotation for one batch.

    ``haplotypes``: ``<gene_id>.haplotypes.npz`` files or directories; ``ism``: the directories/files of
    ``seqgx ism`` (``<gene_id>.saturation.npz`` is needed for every gene); ``drivers``: drivers.tsv files
    (rows of other genes are ignored); ``readouts``: the model's
    :class:`~seqgx.model.attribution.ReadoutSet`; ``module`` (fast path) or ``outputs`` (full forward).
    Writes ``<gene_id>.driver_ism.npz`` under ``out_dir``; returns the batch's tables (write them with
    :func:`write_batch_tables`).
    """
    from seqgx.analysis.batch_stats import signed_distance
    from seqgx.analysis.stats import gene_rng
    from seqgx.genome.personalize import GeneHaplotypes
    from seqgx.genome.reference import encode
    from seqgx.tables import expand_inputs

    o = (opts or MotifOptions()).resolved()
    hap_files = expand_inputs(haplotypes, ".haplotypes.npz", "haplotypes")
    sat_files = {p.name[: -len(".saturation.npz")]: p for p in expand_inputs(ism, ".saturation.npz", "ISM")
                 if p.name.endswith(".saturation.npz")}
    drv_all = read_drivers(drivers)
    gene_r = read_gene_r(genes)
    names = list(readouts.names)
    engine = None
    if o.method == "fast":
        if module is None:
            raise SeqgxError("fast driver ISM needs a torch model; use --method full for other backends")
        from seqgx.model.attribution import FastISM

        engine = FastISM(module, batch_size=o.batch_size, device=o.device)
    elif o.method != "full":
        raise SeqgxError(f"ISM method '{o.method}' is not known; use 'fast' or 'full'")
    elif outputs is None:
        from seqgx.model.attribution import torch_outputs

        if module is None:
            raise SeqgxError("full-forward driver ISM needs a model; pass --model")
        outputs = torch_outputs(module, o.device, o.batch_size)
    out = Path(out_dir)
    drv_rows: list[dict[str, Any]] = []
    seq_rows: list[dict[str, Any]] = []
    snv_rows: list[dict[str, Any]] = []
    npz_files: list[Path] = []
    ctx_cols = context_columns("ref", o.thresholds) + context_columns("alt", o.thresholds)
    for path in hap_files:
        gh = GeneHaplotypes.load(path)
        gid = str(gh.gene_id)
        if gid not in sat_files:
            raise SeqgxError(f"gene {gid} has no saturation ISM ('{gid}.saturation.npz' is not among the "
                             f"--ism inputs); re-run 'seqgx ism' with --tss-window > 0 (e.g. 1000) for "
                             f"this gene")
        sat = load_saturation(sat_files[gid], gid)
        ref_tok = np.asarray(gh.reference, dtype=np.uint8)
        var = gh.variants.reset_index(drop=True)
        vid_index = {str(v): i for i, v in enumerate(var["variant_id"].astype(str))}
        gd = drv_all[drv_all["gene_id"].astype(str) == gid].reset_index(drop=True)
        for r in dict.fromkeys(gd["readout"].astype(str)):
            if r not in names:
                raise SeqgxError(f"drivers of gene {gid} are for readout '{r}', but the model's readouts "
                                 f"are {', '.join(names) or 'none'}; pass the same --tracks / "
                                 f"--finetuned-weights as 'seqgx ism'")
            if r not in sat.readouts:
                raise SeqgxError(f"saturation ISM file '{sat_files[gid]}' has no readout '{r}' (has "
                                 f"{', '.join(sat.readouts)}); re-run 'seqgx ism' with the readouts of "
                                 f"'seqgx stats'")
        # Attribution tracks, scales and seqlets per readout of the saturation file.
        tracks: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
        seqlets_by_r: dict[str, list[dict[str, Any]]] = {}
        for r in sat.readouts:
            pos, a = _gene_track(sat, gh.tss, o.window, r)
            scale = gene_scale(a, o.scale)
            tracks[r] = (pos, a, scale)
            lst: list[dict[str, Any]] = []
            if math.isfinite(scale):
                v = a / scale
                calls = call_seqlets(v, o.seqlet_threshold, o.seqlet_min_length)
                pv = seqlet_pvalues(v, calls, o.seqlet_threshold, o.seqlet_min_length, o.seqlet_shuffles,
                                    gene_rng(o.seed, f"{gid}\t{r}"))
                for n, ((s, e, sign), p) in enumerate(zip(calls, pv, strict=True), start=1):
                    seq = "".join(ALPHABET[t] for t in ref_tok[pos[s:e + 1] - 1 - gh.window_start])
                    lst.append({"gene_id": gid, "readout": r, "seqlet_id": f"{gid}:{r}:{n}",
                                "chrom": gh.chrom, "start": int(pos[s]), "end": int(pos[e]),
                                "start_to_tss": int(pos[s] - gh.tss), "end_to_tss": int(pos[e] - gh.tss),
                                "length": int(e - s + 1), "sign": int(sign),
                                "attribution_sum": float(np.nansum(a[s:e + 1])),
                                "score_sum": float(np.nansum(v[s:e + 1])),
                                "max_abs_score": float(np.nanmax(np.abs(v[s:e + 1]))), "p_value": float(p),
                                "sequence": seq, "scale": scale, "scale_kind": o.scale})
            seqlets_by_r[r] = lst
            seq_rows.extend(lst)
        # Which drivers get neighbourhood ISM.
        todo: dict[str, int] = {}
        row_state: list[tuple[int | None, str]] = []
        for _, d in gd.iterrows():
            vi = vid_index.get(str(d["variant_id"]))
            if vi is None:
                raise SeqgxError(f"driver {d['variant_id']} of gene {gid} is not among the SNVs of "
                                 f"haplotypes file '{path}'; pass the drivers.tsv of this run")
            main = _tristate(pd.Series([d["is_main"]])).iloc[0] == 1.0
            wi = int(var.at[vi, "window_index"])
            if not (main or o.all_drivers):
                row_state.append((vi, "not_computed"))
            elif wi - o.flank < 0 or wi + o.flank >= len(ref_tok):
                row_state.append((vi, "near_window_end"))
            else:
                row_state.append((vi, "ok"))
                todo.setdefault(str(d["variant_id"]), vi)
        blocks: dict[str, DriverISM] = {}
        if todo:
            vis = list(todo.values())
            wis = var.loc[vis, "window_index"].to_numpy(np.int64)
            alts = encode("".join(var.loc[vis, "alt"].astype(str))).astype(np.int64)
            res = driver_neighbourhood_ism(ref_tok, wis, alts, readouts, engine=engine, outputs=outputs,
                                           flank=o.flank)
            blocks = dict(zip(todo, res, strict=True))
        npz_files.append(write_driver_ism(out / f"{gid}.driver_ism.npz", gh, names, list(blocks),
                                          list(blocks.values()), o.flank))
        # One row per driver.
        for (_, d), (vi, status) in zip(gd.iterrows(), row_state, strict=True):
            r, vid = str(d["readout"]), str(d["variant_id"])
            pos_d, wi = int(var.at[vi, "pos"]), int(var.at[vi, "window_index"])
            alt_tok = int(encode(str(var.at[vi, "alt"]))[0])
            _, _, scale = tracks[r]
            row: dict[str, Any] = {c: d[c] for c in DRIVER_COLUMNS}
            row["readout_name"] = d.get("readout_name", r)
            row["gene_r"] = gene_r.get((gid, r), math.nan)
            row["scale_kind"], row["scale"] = o.scale, scale
            vals = dict.fromkeys(ctx_cols, math.nan)
            if status == "ok":
                b = blocks[vid]
                k = names.index(r)
                cr = driver_context(b.ref_matrix[k], scale, o.thresholds)
                ca = driver_context(b.alt_matrix[k], scale, o.thresholds)
                vals.update(context_row(cr, "ref"))
                vals.update(context_row(ca, "alt"))
                if not (np.all(np.isfinite(b.ref_matrix[k])) and np.all(np.isfinite(b.alt_matrix[k]))):
                    status = "nan_ism"
                elif not math.isfinite(scale):
                    status = "no_scale"
            row["status"] = status
            row.update(vals)
            row.update(_seqlet_link(pos_d, gh.tss, o.window, seqlets_by_r.get(r, [])))
            row["ref_context"] = _context(ref_tok, wi, o.context_flank)
            row["alt_context"] = _context(ref_tok, wi, o.context_flank, alt_tok)
            drv_rows.append(row)
        # SNVs of the TSS track (chance) and matched controls, per readout.
        dist = signed_distance(var["pos"].to_numpy(np.int64), gh.tss, gh.strand) if len(var) else np.zeros(0)
        for r in sat.readouts:
            rd = gd[gd["readout"].astype(str) == r]
            drv_vi = [vid_index[str(v)] for v in rd["variant_id"]]
            controls = _match_controls(var["pos"].to_numpy(np.int64), dist, drv_vi, o.controls)
            near = np.abs(var["pos"].to_numpy(np.int64) - gh.tss) <= o.window
            keep = sorted(set(np.flatnonzero(near).tolist()) | set(controls))
            for vi in keep:
                p = int(var.at[vi, "pos"])
                wi = int(var.at[vi, "window_index"])
                link = _seqlet_link(p, gh.tss, o.window, seqlets_by_r.get(r, []))
                snv_rows.append({"gene_id": gid, "readout": r, "variant_id": str(var.at[vi, "variant_id"]),
                                 "pos": p, "ref": str(var.at[vi, "ref"]), "alt": str(var.at[vi, "alt"]),
                                 "distance_to_tss": int(dist[vi]), "is_driver": vi in drv_vi,
                                 "control_for": ",".join(str(var.at[c, "variant_id"])
                                                         for c in controls.get(vi, [])),
                                 "in_tss_window": bool(near[vi]), "in_seqlet": link["in_seqlet"],
                                 "ref_context": _context(ref_tok, wi, o.context_flank),
                                 "alt_context": _context(ref_tok, wi, o.context_flank,
                                                         int(encode(str(var.at[vi, "alt"]))[0]))})
        log.info("%s: %d drivers, %d with neighbourhood ISM, %d seqlets", gid, len(gd), len(blocks),
                 sum(len(v) for v in seqlets_by_r.values()))
    seqlets = pd.DataFrame(seq_rows, columns=[c for c in SEQLET_COLUMNS if not c.startswith("tf_")])
    ann = annotate_sequences(seqlets["sequence"].tolist(), db or (jaspar_motifs() if len(seqlets) else None),
                             o.tomtom_shuffles, o.seed) if len(seqlets) else pd.DataFrame(
        columns=["tf_name", "tf_matrix_id", "tf_p", "tf_q", "tf_shuffle_p", "tf_significant"])
    seqlets = pd.concat([seqlets.reset_index(drop=True), ann.reset_index(drop=True)], axis=1)[SEQLET_COLUMNS]
    driver_cols = [*DRIVER_COLUMNS, "readout_name", "gene_r", "status", "scale_kind", "scale", *ctx_cols,
                   "in_seqlet", "seqlet_id", "seqlet_tf", "seqlet_tf_matrix_id", "seqlet_tf_q",
                   "seqlet_tf_significant", "seqlet_distance", "ref_context", "alt_context"]
    dm = pd.DataFrame(drv_rows)
    if len(dm):
        info = seqlets.set_index("seqlet_id")
        ids = dm["seqlet_id"].fillna("")
        hit = ids.isin(info.index)
        for col, src in (("seqlet_tf", "tf_name"), ("seqlet_tf_matrix_id", "tf_matrix_id"),
                         ("seqlet_tf_q", "tf_q"), ("seqlet_tf_significant", "tf_significant")):
            dm[col] = None
            dm.loc[hit, col] = info.loc[ids[hit], src].to_numpy()
    dm = dm.reindex(columns=driver_cols)
    return BatchTables(dm, seqlets, pd.DataFrame(snv_rows, columns=SNV_COLUMNS), npz_files)


def _seqlet_link(pos: int, tss: int, window: int, seqlets: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """in_seqlet (NA outside the TSS track), the seqlet holding ``pos`` and the distance to the nearest."""
    inside = next((s for s in seqlets if s["start"] <= pos <= s["end"]), None)
    dist = min((max(s["start"] - pos, pos - s["end"], 0) for s in seqlets), default=None)
    return {"in_seqlet": (inside is not None) if abs(pos - tss) <= window else None,
            "seqlet_id": inside["seqlet_id"] if inside else None,
            "seqlet_distance": float(dist) if dist is not None else math.nan}


def _match_controls(pos: np.ndarray, dist: np.ndarray, drivers: Sequence[int], k: int
                    ) -> dict[int, list[int]]:
    """Variant index -> the indices of the drivers it is a matched control for.

    For each driver in order: the ``k`` non-driver SNVs of the gene nearest in signed distance to the TSS
    (ties: lower position), none within ``2 * DENOVO_FLANK`` bp of any driver and none used before."""
    out: dict[int, list[int]] = {}
    if k == 0 or not len(drivers):
        return out
    drv = np.asarray(drivers, dtype=np.int64)
    bad = np.zeros(len(pos), dtype=bool)
    bad[drv] = True
    bad |= (np.abs(pos[:, None] - pos[drv][None, :]) <= 2 * DENOVO_FLANK).any(1)
    for d in drv:
        cand = np.flatnonzero(~bad)
        if not cand.size:
            break
        order = np.lexsort((pos[cand], np.abs(dist[cand] - dist[d])))
        for c in cand[order[:k]]:
            out.setdefault(int(c), []).append(int(d))
            bad[c] = True
    return out


def write_batch_tables(tables: BatchTables, out_dir: str | Path, batch_name: str) -> list[Path]:
    """``<batch>.driver_motifs.tsv``, ``<batch>.seqlets.tsv``, ``<batch>.motif_snvs.tsv``."""
    if not batch_name or any(c in batch_name for c in "/\\\t\n") or batch_name.startswith("."):
        raise SeqgxError(f"--batch-name {batch_name!r} cannot be a file name; use letters, digits and "
                         f". _ - +")
    out = Path(out_dir)
    return [_write_tsv(tables.driver_motifs, out / f"{batch_name}.driver_motifs.tsv"),
            _write_tsv(tables.seqlets, out / f"{batch_name}.seqlets.tsv"),
            _write_tsv(tables.snvs, out / f"{batch_name}.motif_snvs.tsv")]
