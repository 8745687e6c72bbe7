"""Known causal variants: do the model's drivers hit fine-mapped eQTL variants (issue 15, item 5)?

- :func:`read_finemapped` reads a fine-mapping table (the layout SuSiE / GTEx credible-set tables reduce
  to) into one normalised table;
- :func:`annotate_drivers` marks one gene's drivers as a credible-set variant (``causal``), in LD with one
  (``ld``: r^2 >= 0.8 in the cohort's own genotypes) or neither (``none``);
- :func:`gene_finemap_columns` adds per gene and readout whether the main driver (any driver) is causal;
- :func:`finemap_summary` gives summary.json's figures per readout, including the study's Fig S6A numbers
  (significant and significant-negative genes among genes with a known causal SNV vs all genes).

Variants are matched by chromosome (with or without a 'chr' prefix), position and the unordered allele
pair: a credible variant written ``A>G`` matches the cohort's ``G>A`` at the same position (the same site;
r^2 does not depend on which allele is counted).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqgx.analysis.predixcan import match_gene_ids, normalize_chrom
from seqgx.errors import SeqgxError
from seqgx.genome.genes import strip_version
from seqgx.io import require_file
from seqgx.log import get_logger
from seqgx.tables import as_tristate

log = get_logger(__name__)

FINEMAP_COLUMNS = ("gene_id", "chrom", "pos", "ref", "alt", "pip", "credible_set")
#: Added to drivers.tsv rows by :func:`annotate_drivers`.
DRIVER_FINEMAP_COLUMNS = ("finemap_match", "finemap_r2", "finemap_pip", "finemap_variant")
#: Added to genes.tsv rows by :func:`gene_finemap_columns`.
GENE_FINEMAP_COLUMNS = ("finemapped", "main_driver_causal", "any_driver_causal", "finemap_pip",
                        "finemap_untestable")
MATCHES = ("causal", "ld")  # finemap_match values that count as hitting the causal signal
DEFAULT_MIN_R2 = 0.8
_LAYOUTS = ("gene_id, variant_id, pip, credible_set", "gene_id, chrom, pos, ref, alt, pip, credible_set")
_FIX = f"pass a tab-separated fine-mapping table with columns {_LAYOUTS[0]} (or {_LAYOUTS[1]})"
_ALLELE = frozenset("ACGTN")
_EMPTY_CS = frozenset({"", "na", "nan", "none", "-1"})  # SuSiE's 'not in a credible set' spellings


# ---------------------------------------------------------------------------------------------------
# Reading the table
# ---------------------------------------------------------------------------------------------------

def parse_variant_id(text: str) -> tuple[str, int, str, str] | None:
    """``chr1_12345_A_G_b38`` (GTEx: chrom_pos_ref_alt with an optional build suffix) or ``chr1:12345:A:G``
    -> (chrom without 'chr', pos, REF, ALT); None when ``text`` is neither."""
    s = str(text).strip()
    parts = s.split(":") if ":" in s else s.split("_")
    if ":" not in s and len(parts) == 5 and parts[4].lower().startswith("b"):
        parts = parts[:4]  # the GTEx build tag (b37 / b38)
    if len(parts) != 4:
        return None
    chrom, pos, ref, alt = parts
    ref, alt = ref.upper(), alt.upper()
    if not chrom or not pos.isdigit() or int(pos) < 1 or not _alleles_ok(ref) or not _alleles_ok(alt):
        return None
    return normalize_chrom(chrom), int(pos), ref, alt


def _alleles_ok(a: str) -> bool:
    return bool(a) and set(a) <= _ALLELE


def read_finemapped(path: str | Path) -> pd.DataFrame:
    """A fine-mapping table -> columns :data:`FINEMAP_COLUMNS` (chrom without 'chr', pos int, ref/alt upper
    case, pip float in [0, 1], credible_set str), one row per credible-set variant and gene.

    Accepted layouts (tab-separated, header line, gzip by the ``.gz`` suffix): ``gene_id, variant_id, pip,
    credible_set`` with ``variant_id`` as GTEx's ``chr1_12345_A_G_b38`` (build suffix optional) or
    ``chr1:12345:A:G``; or ``gene_id, chrom, pos, ref, alt, pip, credible_set`` (used when both are
    present). Other columns are ignored. Rows whose credible_set is empty, NA or -1 (SuSiE's "in no
    credible set") are dropped. A missing column, an unparsable variant, a PIP that is not a number in
    [0, 1] or a table without credible-set rows is a one-line :class:`SeqgxError` (with the line number).
    """
    p = require_file(path, "fine-mapping table", _FIX)
    try:
        # All text, blank lines kept: the index then gives each record's line number (index + 2).
        t = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False, skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SeqgxError(f"fine-mapping table '{p}' is not a tab-separated table ({msg}); {_FIX}") from None
    t.columns = [str(c).strip() for c in t.columns]
    t = t.apply(lambda c: c.str.strip())
    t = t[(t != "").any(axis=1)]
    coords = all(c in t.columns for c in ("chrom", "pos", "ref", "alt"))
    need = ["gene_id", "pip", "credible_set"] + ([] if coords else ["variant_id"])
    missing = [c for c in need if c not in t.columns]
    if missing:
        raise SeqgxError(f"fine-mapping table '{p}' lacks column '{missing[0]}' (has "
                         f"{', '.join(t.columns)}); accepted layouts: {_LAYOUTS[0]} or {_LAYOUTS[1]}")
    if t.empty:
        raise SeqgxError(f"fine-mapping table '{p}' has no rows; {_FIX}")
    rows: list[tuple[str, str, int, str, str, float, str]] = []
    dropped = 0
    for i, rec in zip(t.index, t.to_dict("records"), strict=True):
        line = int(i) + 2
        where = f"fine-mapping table '{p}' line {line}"
        gene = rec["gene_id"]
        if not gene:
            raise SeqgxError(f"{where}: empty gene_id; fill it in or remove the line")
        if coords:
            parsed = parse_variant_id(f"{rec['chrom']}:{rec['pos']}:{rec['ref']}:{rec['alt']}")
            if parsed is None:
                raise SeqgxError(f"{where}: chrom/pos/ref/alt {rec['chrom']!r} {rec['pos']!r} {rec['ref']!r} "
                                 f"{rec['alt']!r} is not a variant (pos a positive integer, alleles of "
                                 f"A/C/G/T/N); fix or remove the line")
        else:
            parsed = parse_variant_id(rec["variant_id"])
            if parsed is None:
                raise SeqgxError(f"{where}: variant_id {rec['variant_id']!r} is neither chr1_12345_A_G_b38 "
                                 f"nor chr1:12345:A:G; fix or remove the line")
        try:
            pip = float(rec["pip"])
        except ValueError:
            pip = math.nan
        if not (0.0 <= pip <= 1.0):  # also NaN and inf
            raise SeqgxError(f"{where}: pip {rec['pip']!r} is not a number in [0, 1]; fix or remove the line")
        cs = rec["credible_set"]
        if cs.lower() in _EMPTY_CS:
            dropped += 1
            continue
        rows.append((gene, *parsed, pip, cs))
    if dropped:
        log.info("fine-mapping table %s: %d rows in no credible set left out", p, dropped)
    if not rows:
        raise SeqgxError(f"fine-mapping table '{p}' has no variant in a credible set (every credible_set is "
                         f"empty, NA or -1); pass the credible-set variants")
    out = pd.DataFrame(rows, columns=list(FINEMAP_COLUMNS))
    out["pos"] = out["pos"].astype(np.int64)
    out["pip"] = out["pip"].astype(float)
    return out


# ---------------------------------------------------------------------------------------------------
# Drivers of one gene
# ---------------------------------------------------------------------------------------------------

def _site(pos: Any, ref: Any, alt: Any) -> tuple[int, str, str]:
    """A site key independent of which allele is called ALT (see the module docstring)."""
    a, b = sorted((str(ref).upper(), str(alt).upper()))
    return int(pos), a, b


@dataclass
class _GeneIndex:
    """Row positions of each gene id of one fine-mapping table and the ids of each version-less id."""

    table: pd.DataFrame
    rows: dict[str, np.ndarray]
    by_base: dict[str, list[str]]


_last_index: list[_GeneIndex] = []  # the last table's index: a stats batch looks up every gene in one table


def _gene_index(finemapped: pd.DataFrame) -> _GeneIndex:
    """The index of ``finemapped``, built once per table (a per-gene scan of a GTEx-sized table costs
    ~0.1 s, a whole run's worth of genes half an hour). Tables are taken as read-only."""
    if _last_index and _last_index[0].table is finemapped:
        return _last_index[0]
    rows = {str(k): v for k, v in finemapped.groupby(finemapped["gene_id"].astype(str), sort=False)
            .indices.items()}
    by_base: dict[str, list[str]] = {}
    for gid in rows:
        by_base.setdefault(strip_version(gid), []).append(gid)
    _last_index[:] = [_GeneIndex(finemapped, rows, by_base)]
    return _last_index[0]


def gene_credible(finemapped: pd.DataFrame, gene_id: str) -> pd.DataFrame:
    """The credible-set variants of ``gene_id`` (the same id, else the same id without version suffix
    when that is unique, as :func:`~seqgx.analysis.predixcan.match_gene_ids`), one row per variant (the
    highest PIP where a variant is in several credible sets); empty when none."""
    index = _gene_index(finemapped)
    gid = str(gene_id)
    if gid not in index.rows:
        cands = index.by_base.get(strip_version(gid), [])
        if len(cands) != 1:
            return finemapped.iloc[:0].copy()
        gid = cands[0]
    fm = finemapped.iloc[index.rows[gid]]
    return (fm.sort_values("pip", ascending=False, kind="stable")
            .drop_duplicates(["chrom", "pos", "ref", "alt"]).reset_index(drop=True))


def _r2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Pearson R of every row of ``a`` (n, S) with every row of ``b`` (m, S): (n, m); NaN where
    a row is constant (no LD can be measured)."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    na, nb = np.sqrt((a * a).sum(axis=1)), np.sqrt((b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.einsum("ij,kj->ik", a, b) / np.outer(na, nb)  # not BLAS: the same bits on every CPU
    r[(na == 0)[:, None] | (nb == 0)[None, :]] = np.nan
    return np.minimum(r * r, 1.0)


def annotate_drivers(drivers: pd.DataFrame, variants: pd.DataFrame, dosage: np.ndarray, chrom: str,
                     finemapped: pd.DataFrame, gene_id: str, min_r2: float = DEFAULT_MIN_R2) -> pd.DataFrame:
    """One gene's driver rows (columns pos, ref, alt; any readouts) with :data:`DRIVER_FINEMAP_COLUMNS`.

    ``variants`` / ``dosage`` / ``chrom``: the gene's haplotypes (``GeneHaplotypes.variants`` with pos,
    ref, alt; ``.dosage`` (V, S) alt dosage; ``.chrom``); ``finemapped``: :func:`read_finemapped`.

    - ``finemap_match``: ``causal`` (the driver is a credible-set variant of the gene), ``ld`` (r^2 >=
      ``min_r2`` with one), ``none``, or ``''`` when the gene has no credible-set variant;
    - ``finemap_r2``: the largest r^2 with the gene's credible variants (1.0 for a causal driver); NaN
      when none is computable (no testable credible variant, constant dosage);
    - ``finemap_pip`` / ``finemap_variant``: PIP and ``chrom:pos:ref:alt`` of the best match (a causal
      driver itself; else the credible variant of highest r^2, ties to the highest PIP), only for
      ``causal`` / ``ld`` drivers (NaN / '' otherwise).

    r^2 is the squared Pearson R of alt dosages across the haplotypes' samples, for credible variants
    found in ``variants``; the others (outside the window or not in the VCF) cannot be tested. The result's
    ``attrs`` hold ``finemap_credible`` (the gene's distinct credible variants) and ``finemap_untestable``
    (those not in ``variants``); read them before concatenating (pandas drops differing attrs).
    """
    out = drivers.copy()
    cred = gene_credible(finemapped, gene_id)
    cred = cred.assign(_chrom_ok=cred["chrom"].map(normalize_chrom) == normalize_chrom(chrom))
    vindex: dict[tuple[int, str, str], int] = {}
    for i, key in enumerate(map(_site, variants["pos"], variants["ref"], variants["alt"])):
        vindex.setdefault(key, i)
    ckeys = [_site(p, r, a) for p, r, a in zip(cred["pos"], cred["ref"], cred["alt"], strict=True)]
    crow = np.array([vindex.get(k, -1) if ok else -1 for k, ok in zip(ckeys, cred["_chrom_ok"], strict=True)],
                    dtype=np.int64)
    out.attrs["finemap_credible"] = len(cred)
    out.attrs["finemap_untestable"] = int((crow < 0).sum())
    n = len(out)
    match = np.full(n, "" if cred.empty else "none", dtype=object)
    r2_best = np.full(n, np.nan)
    pip_best = np.full(n, np.nan)
    variant_best = np.full(n, "", dtype=object)
    if cred.empty or n == 0:
        return out.assign(finemap_match=match, finemap_r2=r2_best, finemap_pip=pip_best,
                          finemap_variant=variant_best)
    ids = [f"{chrom}:{p}:{r}:{a}" for p, r, a in zip(cred["pos"], cred["ref"], cred["alt"], strict=True)]
    pips = cred["pip"].to_numpy(dtype=float)
    own: dict[tuple[int, str, str], int] = {}  # site -> its credible row (rows are in decreasing PIP)
    for j, (k, ok) in enumerate(zip(ckeys, cred["_chrom_ok"], strict=True)):
        if ok:
            own.setdefault(k, j)
    dkeys = [_site(p, r, a) for p, r, a in zip(out["pos"], out["ref"], out["alt"], strict=True)]
    drow = np.array([vindex.get(k, -1) for k in dkeys], dtype=np.int64)
    r2 = np.full((n, len(cred)), np.nan)
    tested, placed = crow >= 0, drow >= 0
    if tested.any() and placed.any():
        d = np.asarray(dosage)
        r2[np.ix_(placed, tested)] = _r2(d[drow[placed]].astype(float), d[crow[tested]].astype(float))
    for i, key in enumerate(dkeys):
        j = own.get(key)
        if j is not None:  # the driver is a credible variant: its own match, whatever else it is in LD with
            match[i], r2_best[i], pip_best[i], variant_best[i] = "causal", 1.0, pips[j], ids[j]
            continue
        row = r2[i]
        if not np.isfinite(row).any():
            continue
        top = np.nanmax(row)
        r2_best[i] = top
        if top >= min_r2:
            # Ties (within float noise: identical dosage patterns) go to the highest PIP.
            cands = np.flatnonzero(np.isfinite(row) & (row >= top - 1e-12))
            j = int(cands[np.argmax(pips[cands])])
            match[i], pip_best[i], variant_best[i] = "ld", pips[j], ids[j]
    return out.assign(finemap_match=match, finemap_r2=r2_best, finemap_pip=pip_best,
                      finemap_variant=variant_best)


# ---------------------------------------------------------------------------------------------------
# Genes and the summary
# ---------------------------------------------------------------------------------------------------

def _tristate(s: pd.Series) -> np.ndarray:
    """A boolean column as built or read back (bools, true/false words, 1/0, NA) -> 1.0 / 0.0 / NaN."""
    return as_tristate(pd.Series(s)).to_numpy(copy=True)


def gene_finemap_columns(genes: pd.DataFrame, drivers: pd.DataFrame, finemapped: pd.DataFrame,
                         untestable: Mapping[str, int] | None = None) -> pd.DataFrame:
    """genes.tsv rows (gene_id, readout) with :data:`GENE_FINEMAP_COLUMNS` appended (replaced if present),
    ``genes.attrs`` kept as they are (a stats batch's report data, not copied).

    ``drivers``: the same genes' drivers.tsv rows (gene_id, readout, is_main) annotated by
    :func:`annotate_drivers`. ``finemapped``: a bool, the gene has a credible set; ``main_driver_causal``
    (pandas ``boolean``): True when the main driver's finemap_match is causal or ld, False for a fine-mapped
    gene whose main driver is not, NA otherwise (not fine-mapped, or no main driver); ``any_driver_causal``:
    the same over all the gene's drivers of the readout; ``finemap_pip``: the PIP of the main driver's best
    match (NaN unless it matches); ``finemap_untestable``: ``untestable[gene_id]`` (the ``attrs`` of
    :func:`annotate_drivers`) for fine-mapped genes, NaN otherwise or when not given.
    """
    # Every pandas step deep-copies attrs; a stats batch's genes carry the report's gene data there.
    attrs, genes.attrs = genes.attrs, {}
    try:
        g = genes.copy()
    finally:
        genes.attrs = attrs
    ids = g["gene_id"].astype(str)
    hits = match_gene_ids(ids.unique(), finemapped["gene_id"].astype(str).unique())
    fm = ids.isin(set(hits)).to_numpy(bool)
    d = drivers.assign(_key=list(zip(drivers["gene_id"].astype(str), drivers["readout"].astype(str),
                                     strict=True)))
    hit = d["finemap_match"].isin(MATCHES).to_numpy(bool) if len(d) else np.zeros(0, bool)
    main = _tristate(d["is_main"]) == 1.0 if len(d) else np.zeros(0, bool)
    d = d.assign(_hit=hit, _main=main)
    any_hit = d.groupby("_key", sort=False)["_hit"].any().to_dict() if len(d) else {}
    m = d[d["_main"]].drop_duplicates("_key")
    main_hit = dict(zip(m["_key"], m["_hit"], strict=True))
    main_pip = dict(zip(m["_key"], pd.to_numeric(m["finemap_pip"], errors="coerce"), strict=True))
    keys = list(zip(ids, g["readout"].astype(str), strict=True))
    main_col = [bool(main_hit[k]) if f and k in main_hit else pd.NA for k, f in zip(keys, fm, strict=True)]
    any_col = [bool(any_hit[k]) if f and k in any_hit else pd.NA for k, f in zip(keys, fm, strict=True)]
    g = g.drop(columns=[c for c in GENE_FINEMAP_COLUMNS if c in g.columns])
    g["finemapped"] = fm
    g["main_driver_causal"] = pd.array(main_col, dtype="boolean")
    g["any_driver_causal"] = pd.array(any_col, dtype="boolean")
    g["finemap_pip"] = [float(main_pip.get(k, math.nan)) if f else math.nan
                        for k, f in zip(keys, fm, strict=True)]
    g["finemap_untestable"] = [float(untestable[i]) if f and untestable is not None and i in untestable
                               else math.nan for i, f in zip(ids, fm, strict=True)]
    g.attrs = attrs  # the caller's attrs, not a copy
    return g


def _group_figures(r: np.ndarray, sig: np.ndarray | None) -> dict[str, Any]:
    """Fig S6A numbers of one group of genes: n, tested (finite R), significant, significant with R < 0;
    fractions of the tested genes (and negative of significant). ``sig`` None: no significance known."""
    tested = np.isfinite(r)
    out: dict[str, Any] = {"n_genes": len(r), "n_tested": int(tested.sum())}
    if sig is None:
        out.update(n_significant=math.nan, n_significant_negative=math.nan, fraction_significant=math.nan,
                   fraction_significant_negative=math.nan, fraction_negative_of_significant=math.nan)
        return out
    with np.errstate(invalid="ignore"):
        s = sig & tested
        n_sig, n_neg = int(s.sum()), int((s & (r < 0)).sum())
    n = out["n_tested"]
    out.update(n_significant=n_sig, n_significant_negative=n_neg,
               fraction_significant=n_sig / n if n else math.nan,
               fraction_significant_negative=n_neg / n if n else math.nan,
               fraction_negative_of_significant=n_neg / n_sig if n_sig else math.nan)
    return out


def _numbers(t: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column as floats (unparsable values NaN); all NaN when the column is absent."""
    if column not in t:
        return np.full(len(t), np.nan)
    return pd.to_numeric(t[column], errors="coerce").to_numpy(dtype=float)


def finemap_summary(genes: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """summary.json's fine-mapping figures per readout, from genes rows with :data:`GENE_FINEMAP_COLUMNS`
    (absent: no gene is fine-mapped) and, for Fig S6A, ``r`` and ``significant`` (absent: NaN counts).

    Per readout: n_genes, n_finemapped, n_finemapped_with_main_driver, n_finemapped_with_drivers,
    fraction_main_driver_causal (of fine-mapped genes with a main driver, causal or in LD),
    fraction_any_driver_causal (of fine-mapped genes with drivers), n_credible_untestable (summed
    ``finemap_untestable``), and ``genes_with_causal_snv`` / ``all_genes``: n_genes, n_tested (finite R),
    n_significant, n_significant_negative (significant and R < 0), fraction_significant and
    fraction_significant_negative (of n_tested), fraction_negative_of_significant.
    """
    g = genes.copy()
    if "readout" not in g:
        g["readout"] = "all"
    out: dict[str, dict[str, Any]] = {}
    for readout, t in g.groupby(g["readout"].astype(str), sort=True):
        t = t.drop_duplicates("gene_id")
        fm = (_tristate(t["finemapped"]) == 1.0) if "finemapped" in t else np.zeros(len(t), bool)
        main = _tristate(t["main_driver_causal"]) if "main_driver_causal" in t else np.full(len(t), np.nan)
        anyd = _tristate(t["any_driver_causal"]) if "any_driver_causal" in t else np.full(len(t), np.nan)
        main, anyd = np.where(fm, main, np.nan), np.where(fm, anyd, np.nan)
        r, untest = _numbers(t, "r"), _numbers(t, "finemap_untestable")
        sig = (_tristate(t["significant"]) == 1.0) if "significant" in t else None
        known_untest = np.isfinite(untest[fm]).any()
        n_main, n_any = int(np.isfinite(main).sum()), int(np.isfinite(anyd).sum())
        out[str(readout)] = {
            "n_genes": len(t),
            "n_finemapped": int(fm.sum()),
            "n_finemapped_with_main_driver": n_main,
            "n_finemapped_with_drivers": n_any,
            "fraction_main_driver_causal": float(np.nanmean(main)) if n_main else math.nan,
            "fraction_any_driver_causal": float(np.nanmean(anyd)) if n_any else math.nan,
            "n_credible_untestable": int(np.nansum(untest[fm])) if known_untest else math.nan,
            "genes_with_causal_snv": _group_figures(r[fm], None if sig is None else sig[fm]),
            "all_genes": _group_figures(r, sig),
        }
    return out

