"""`seqgx check-inputs`: validate parameters and inputs before any work starts.

Checks that files exist and are readable, that the VCF/BCF and FASTA are indexed, that contig names
agree between FASTA, VCF and annotation (mapping 'chr1' <-> '1' when unambiguous), that expression and
VCF samples overlap, and that the expression matrix's genes exist in the annotation. The VCF may be
several files (e.g. one per chromosome) with the same samples. Writes the kept samples, the contig map
and which VCF file holds each contig's records, which later steps read.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

import pandas as pd

from seqgx.errors import SeqgxError
from seqgx.genome.genes import read_annotation, strip_version
from seqgx.genome.reference import canonical_contig, contig_map
from seqgx.genome.variants import resolve_vcfs, vcf_contig_files, vcf_contigs_and_samples
from seqgx.io import (
    atomic_output,
    check_index_fresh,
    compression,
    make_output_dir,
    refuse_plain_gzip,
    require_file,
)
from seqgx.log import get_logger
from seqgx.tables import NA_VALUES

log = get_logger(__name__)


@dataclass
class CheckResult:
    samples: pd.DataFrame  # expression_sample, vcf_sample (VCF order)
    contigs: pd.DataFrame  # annotation_contig, fasta_contig, vcf_contig
    summary: dict = field(default_factory=dict)
    vcfs: pd.DataFrame = field(  # vcf_contig, vcf (absolute path): the file holding each contig's records
        default_factory=lambda: pd.DataFrame(columns=["vcf_contig", "vcf"]))


def fasta_lengths(fasta: Path) -> dict[str, int]:
    """Contig -> length from the FASTA's .fai, after checking the FASTA and its index agree.

    Refused: a plain-gzip FASTA (pyfaidx/samtools need bgzip), a missing or malformed .fai, a .fai
    older than the FASTA, and a .fai whose last contig reaches past the end of the file (another FASTA's
    index).
    """
    fai = Path(str(fasta) + ".fai")
    refuse_plain_gzip(fasta, "FASTA", "samtools faidx NEW.gz")
    if not fai.is_file():
        raise SeqgxError(f"FASTA '{fasta}' has no index '{fai.name}'; run 'samtools faidx {fasta}'")
    check_index_fresh(fasta, fai, "FASTA", f"samtools faidx {fasta}")
    lengths: dict[str, int] = {}
    end = 0
    with open(fai) as fh:
        for lineno, line in enumerate(fh, 1):
            fields = line.rstrip("\n").split("\t")
            try:
                length, offset = int(fields[1]), int(fields[2])
                if len(fields) < 5:
                    raise ValueError
            except (ValueError, IndexError):
                raise SeqgxError(f"FASTA index '{fai}' line {lineno} is malformed; "
                                 f"re-create it with 'samtools faidx {fasta}'") from None
            lengths[fields[0]] = length
            end = max(end, offset + length)
    if end > fasta.stat().st_size and not str(fasta).endswith(".gz"):  # bgzip offsets are uncompressed
        raise SeqgxError(f"FASTA index '{fai}' does not match FASTA '{fasta}' (its contigs reach byte {end}, "
                         f"the file has {fasta.stat().st_size}); re-index with 'samtools faidx {fasta}'")
    return lengths


def fasta_contigs(fasta: Path) -> list[str]:
    return list(fasta_lengths(fasta))


_NA_VALUES = list(NA_VALUES)  # the NA spellings of seqgx.tables (pandas' own as well here)
# tensorQTL phenotype BED: '#chr start end phenotype_id' then samples (GTEx writes gene_id).
_BED_SUFFIXES = (".bed", ".bed.gz")
_BED_HEADER_FIX = ("write the header '#chr<TAB>start<TAB>end<TAB>phenotype_id' then one column per sample "
                   "(tensorQTL phenotype BED), or pass a TSV with first column gene_id")


def is_expression_bed(path: str | Path) -> bool:
    """Whether ``path`` names a tensorQTL/GTEx phenotype BED (``.bed`` or ``.bed.gz``) rather than a TSV."""
    return str(path).lower().endswith(_BED_SUFFIXES)


def _first_line(p: Path) -> str:
    # gzip (and bgzip, a series of gzip members) is sniffed from the bytes, not trusted from the name.
    opener = gzip.open if compression(p) else open
    with opener(p, "rt", encoding="utf-8-sig", errors="replace") as fh:  # -sig: as pandas, drop a BOM
        return fh.readline().rstrip("\r\n")


def _check_expression_frame(expr: pd.DataFrame, header: pd.Index, p: Path, what: str, empty_fix: str
                            ) -> pd.DataFrame:
    """The checks both layouts share; ``header`` holds the sample names as the file spells them."""
    expr.index = expr.index.astype(str)
    expr.columns = expr.columns.astype(str)
    if expr.shape[0] == 0 or expr.shape[1] == 0:
        raise SeqgxError(f"{what} '{p}' has no genes or no samples; {empty_fix}")
    # pandas renames repeated column names ('S1' -> 'S1.1'), so look at the header itself.
    if header.duplicated().any():
        dup = header[header.duplicated()][0]
        raise SeqgxError(f"{what} '{p}' names sample '{dup}' more than once; make sample "
                         f"columns unique")
    bad = [c for c in expr.columns if not pd.api.types.is_numeric_dtype(expr[c])]
    if bad:
        raise SeqgxError(f"{what} '{p}' has non-numeric values in sample column '{bad[0]}'; "
                         f"use numbers (NA for missing)")
    if expr.index.duplicated().any():
        raise SeqgxError(f"{what} '{p}' lists gene '{expr.index[expr.index.duplicated()][0]}' "
                         f"more than once; keep one row per gene")
    return expr.astype(float)


def _read_bed(p: Path, coordinates_only: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """The BED as read (first four columns checked), and its header fields."""
    header = _first_line(p).split("\t")
    names = [h.strip().lower() for h in header[:4]]
    if (len(header) < 4 or names[0] not in ("#chr", "chr") or names[1:3] != ["start", "end"]
            or names[3] not in ("phenotype_id", "gene_id")):
        found = "\t".join(header[:4]) or "nothing"
        raise SeqgxError(f"expression BED '{p}' line 1: expected the header '#chr start end phenotype_id' "
                         f"(found '{found}'); {_BED_HEADER_FIX}")
    try:
        bed = pd.read_csv(p, sep="\t", compression="gzip" if compression(p) else None,
                          na_values=_NA_VALUES, dtype={header[0]: str},
                          usecols=range(4) if coordinates_only else None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SeqgxError(f"expression BED '{p}' is not a tab-separated table "
                         f"({str(exc).splitlines()[0]}); {_BED_HEADER_FIX}") from None
    for col in header[1:3]:  # start, end
        values = pd.to_numeric(bed[col], errors="coerce")
        bad = values.isna() | (values < 0) | (values != values.round())
        if bad.any():
            i = int(bad.to_numpy().argmax())
            raise SeqgxError(f"expression BED '{p}' line {i + 2} column '{col}' is "
                             f"'{bed[col].iloc[i]}', not a non-negative integer; fix the coordinate "
                             f"(tensorQTL writes start = TSS - 1, end = TSS)")
    return bed, header


def read_expression(path: str | Path) -> pd.DataFrame:
    """The expression matrix: genes x samples (gene ids as str index, float values, NaN for NA).

    The one reader of this input: every step that needs expression goes through it, so every step
    refuses the same bad matrices with the same messages. Two layouts: a TSV (first column gene_id,
    one column per sample) or a tensorQTL/GTEx phenotype BED (``.bed``/``.bed.gz``; header
    ``#chr start end phenotype_id`` or ``... gene_id``, then one column per sample), which gives the
    same frame for the same values (index = phenotype_id; the coordinates: :func:`expression_tss`).
    """
    if is_expression_bed(path):
        p = require_file(path, "expression BED", _BED_HEADER_FIX)
        bed, header = _read_bed(p)
        expr = bed.drop(columns=header[:3]).set_index(header[3])
        return _check_expression_frame(expr, pd.Index(header[4:]), p, "expression BED",
                                       "expected one row per gene and one column per sample after the "
                                       "four coordinate columns")
    p = require_file(path, "expression matrix", "pass a TSV with first column gene_id, one column per sample")
    try:
        expr = pd.read_csv(p, sep="\t", index_col=0, na_values=_NA_VALUES)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SeqgxError(f"expression matrix '{p}' is not a tab-separated table "
                         f"({str(exc).splitlines()[0]}); expected first column gene_id then one column "
                         f"per sample") from None
    return _check_expression_frame(expr, pd.Index(_first_line(p).split("\t")[1:]), p, "expression matrix",
                                   "expected genes as rows and samples as tab-separated columns")


def expression_tss(path: str | Path) -> pd.DataFrame | None:
    """For a phenotype BED: columns gene_id, chrom, tss (1-based, the BED ``end``); None for a TSV.

    tensorQTL writes start = TSS - 1 and end = TSS, so ``end`` is the 1-based TSS.
    """
    if not is_expression_bed(path):
        return None
    p = require_file(path, "expression BED", _BED_HEADER_FIX)
    bed, header = _read_bed(p, coordinates_only=True)
    return pd.DataFrame({"gene_id": bed[header[3]].astype(str).to_numpy(),
                         "chrom": bed[header[0]].astype(str).to_numpy(),
                         "tss": pd.to_numeric(bed[header[2]]).astype("int64").to_numpy()})


def cross_check_tss(bed_tss: pd.DataFrame, annotation_tss: pd.DataFrame, path: str | Path) -> int:
    """How many genes' BED TSS disagree with the annotation's (> 1 bp, or another chromosome).

    Gene ids match with or without version suffix; contigs match without a 'chr' prefix. Logs one
    warning with the count and the first example (a per-gene warning would flood a GTEx-sized log).
    """
    from seqgx.analysis.predixcan import match_gene_ids  # scipy import: only when a BED is given

    annot = annotation_tss.astype({"gene_id": str}).drop_duplicates("gene_id").set_index("gene_id")
    bed = bed_tss.astype({"gene_id": str}).drop_duplicates("gene_id")
    to_annot = match_gene_ids(bed["gene_id"], annot.index)
    bed = bed[bed["gene_id"].isin(to_annot)]
    if bed.empty:
        return 0
    other = annot.loc[bed["gene_id"].map(to_annot)]
    same_chrom = (bed["chrom"].astype(str).map(canonical_contig).to_numpy()
                  == other["chrom"].astype(str).map(canonical_contig).to_numpy())
    close = (bed["tss"].astype("int64").to_numpy() - other["tss"].astype("int64").to_numpy())
    bad = ~same_chrom | (abs(close) > 1)
    n_bad = int(bad.sum())
    if n_bad:
        i = int(bad.argmax())
        b, a = bed.iloc[i], other.iloc[i]
        log.warning("expression BED '%s': %d of %d genes have a TSS that disagrees with the annotation "
                    "(> 1 bp or another chromosome), e.g. %s at %s:%d in the BED, %s:%d in the annotation; "
                    "check both use the same assembly and gene version (the annotation's TSS is used)",
                    path, n_bad, len(bed), b["gene_id"], b["chrom"], int(b["tss"]), a["chrom"], int(a["tss"]))
    return n_bad


def read_sample_map(path: Path) -> dict[str, str]:
    table = pd.read_csv(path, sep="\t", dtype=str)
    need = {"expression_sample", "vcf_sample"}
    if not need <= set(table.columns):
        raise SeqgxError(f"sample map '{path}' needs columns expression_sample and vcf_sample "
                         f"(tab-separated, with a header); found {', '.join(table.columns)}")
    for col in ("expression_sample", "vcf_sample"):
        dup = table[col][table[col].duplicated()]
        if len(dup):
            raise SeqgxError(f"sample map '{path}' lists {col} '{dup.iloc[0]}' twice; "
                             f"map each sample once")
    return dict(zip(table["expression_sample"], table["vcf_sample"], strict=True))


def match_samples(expr_samples: list[str], vcf_samples: list[str], sample_map: dict[str, str] | None,
                  min_samples: int, expression_path: Path, vcf_path: Path) -> tuple[pd.DataFrame, dict]:
    dup = pd.Index(vcf_samples)[pd.Index(vcf_samples).duplicated()]
    if len(dup):
        raise SeqgxError(f"VCF '{vcf_path}' names sample '{dup[0]}' twice; make sample ids unique "
                         f"(bcftools reheader)")
    to_vcf = sample_map if sample_map is not None else {s: s for s in expr_samples}
    vcf_pos = {s: i for i, s in enumerate(vcf_samples)}
    pairs = [(e, to_vcf[e]) for e in expr_samples if e in to_vcf and to_vcf[e] in vcf_pos]
    pairs.sort(key=lambda p: vcf_pos[p[1]])  # VCF order: cheapest for genotype reads
    kept_vcf = {v for _, v in pairs}
    counts = {
        "expression_samples": len(expr_samples),
        "vcf_samples": len(vcf_samples),
        "matched_samples": len(pairs),
        "expression_samples_without_genotypes": len(expr_samples) - len(pairs),
        "vcf_samples_without_expression": len(vcf_samples) - len(kept_vcf),
    }
    if len(pairs) < min_samples:
        hint = ("check the sample map" if sample_map is not None else
                "pass a sample map (expression_sample, vcf_sample) if ids differ")
        raise SeqgxError(f"only {len(pairs)} samples of expression matrix '{expression_path}' have genotypes "
                         f"in VCF '{vcf_path}' (minimum {min_samples}); {hint}")
    table = pd.DataFrame(pairs, columns=["expression_sample", "vcf_sample"])
    return table, counts


def same_vcf_samples(samples_by_file: dict[Path, list[str]]) -> list[str]:
    """The sample ids every VCF of a set shares, in the same order; else a one-line error."""
    (first, want), *others = samples_by_file.items()
    for path, got in others:
        if got == want:
            continue
        got_set, want_set = set(got), set(want)
        lacks = [s for s in want if s not in got_set]
        extra = [s for s in got if s not in want_set]
        if lacks or extra:
            what = (f"lacks sample '{lacks[0]}' ({len(lacks)} missing)" if lacks else
                    f"has sample '{extra[0]}' ({len(extra)} extra)")
        else:  # same set: another order (or a repeated id, which match_samples reports on its own)
            i, a, b = next((i, a, b) for i, (a, b) in enumerate(zip_longest(want, got)) if a != b)
            what = f"orders the samples differently (sample column {i + 1}: '{b}', not '{a}')"
        raise SeqgxError(f"VCF '{path}' {what} compared with VCF '{first}'; reheader/subset all VCFs "
                         f"to the same samples (bcftools view -s / bcftools reheader)")
    return want


def check_inputs(fasta: str | Path, vcf: str | Path | Sequence[str | Path], annotation: str | Path,
                 expression: str | Path | None, sample_map: str | Path | None = None,
                 gene_list: str | Path | None = None, min_samples: int = 20,
                 covariates: str | Path | None = None,
                 tissues: Sequence[tuple[str, str | Path, str | Path | None]] | None = None) -> CheckResult:
    """Validate all inputs; raise SeqgxError on the first problem a user must fix.

    ``vcf`` is one spec or a list of specs (files, globs, samplesheets; see
    :func:`seqgx.genome.variants.resolve_vcfs`): the files must share their samples and each contig's
    records must sit in one file. ``expression`` (and its ``covariates``) is one tissue's; ``tissues``
    (name, expression, covariates or None) several: the kept samples are those of any tissue, each
    tissue's covariates are checked on its samples.
    """
    from seqgx.tissues import DEFAULT_TISSUE

    if tissues is None:
        if expression is None:
            raise SeqgxError("give the expression (--expression) or the tissues (--tissue NAME EXPRESSION "
                             "[COVARIATES])")
        tissues = [(DEFAULT_TISSUE, expression, covariates)]
    expression = tissues[0][1]
    fasta = require_file(fasta, "FASTA", "set 'fasta' to the reference genome")
    vcf_files = resolve_vcfs(vcf)
    first_vcf = vcf_files[0]  # sample messages name the first file: all files have the same samples
    annotation = require_file(annotation, "annotation", "set 'annotation' to a GTF or gene TSV")
    for _, expr_path, cov_path in tissues:
        require_file(expr_path, "expression matrix", "set 'expression' to a genes x samples TSV or a "
                     "tensorQTL phenotype BED")
        if cov_path:
            require_file(cov_path, "covariates", "set 'covariates' to the covariates file of that expression")
    expression = Path(expression)
    smap = read_sample_map(require_file(sample_map, "sample map")) if sample_map else None
    if gene_list:
        require_file(gene_list, "gene list")

    fa_lengths = fasta_lengths(fasta)
    fa_contigs = list(fa_lengths)
    per_file = {f: vcf_contigs_and_samples(f) for f in vcf_files}
    vcf_samples = same_vcf_samples({f: samples for f, (_, samples) in per_file.items()})
    contig_file = vcf_contig_files(vcf_files, {f: contigs for f, (contigs, _) in per_file.items()})
    vcf_contigs = list(contig_file)
    vcf_label = f"'{first_vcf}'" + (f" (and {len(vcf_files) - 1} more VCFs)" if len(vcf_files) > 1 else "")
    genes = read_annotation(annotation)
    annot_contigs = list(dict.fromkeys(genes["chrom"].astype(str)))

    to_fasta = contig_map(annot_contigs, fa_contigs, "annotation", "FASTA")
    to_vcf = contig_map(annot_contigs, vcf_contigs, "annotation", "VCF")
    if not to_fasta:
        raise SeqgxError(f"no contig of annotation '{annotation}' (e.g. '{annot_contigs[0]}') is in FASTA "
                         f"'{fasta}' (e.g. '{fa_contigs[0]}'); use an annotation of the same assembly")
    if not to_vcf:
        raise SeqgxError(f"no contig of annotation '{annotation}' (e.g. '{annot_contigs[0]}') has records in "
                         f"VCF {vcf_label} (contigs: {', '.join(vcf_contigs[:5]) or 'none'}); check the "
                         f"VCF's contig names and assembly")
    vcf_to_fasta = contig_map(vcf_contigs, fa_contigs, "VCF", "FASTA")
    vcf_missing_in_fasta = [c for c in vcf_contigs if c not in vcf_to_fasta]
    if vcf_missing_in_fasta and len(vcf_missing_in_fasta) == len(vcf_contigs):
        raise SeqgxError(f"no contig of VCF {vcf_label} (e.g. '{vcf_contigs[0]}') is in FASTA '{fasta}'; "
                         f"use a VCF and FASTA of the same assembly")
    renamed = sorted({f"{a}->{f}" for a, f in to_fasta.items() if a != f} |
                     {f"{a}->{v}" for a, v in to_vcf.items() if a != v})
    if renamed:
        log.warning("contig names differ between files; mapped unambiguously: %s", ", ".join(renamed[:6]))
    rows = [(a, to_fasta[a], to_vcf.get(a, ""), fa_lengths[to_fasta[a]]) for a in annot_contigs
            if a in to_fasta]
    contigs = pd.DataFrame(rows, columns=["annotation_contig", "fasta_contig", "vcf_contig", "fasta_length"])
    vcfs = pd.DataFrame([(c, str(f)) for c, f in contig_file.items()], columns=["vcf_contig", "vcf"])

    per_tissue: dict[str, Any] = {}
    expr_samples: list[str] = []
    expr_genes: list[str] = []
    for name, expr_path, cov_path in tissues:
        expr = read_expression(expr_path)
        tss = expression_tss(expr_path)
        disagree = cross_check_tss(tss, genes, expr_path) if tss is not None else 0
        info: dict[str, Any] = {"expression": str(expr_path), "expression_genes": int(expr.shape[0]),
                                "expression_samples": int(expr.shape[1]), "tss_disagreements": disagree}
        if len(tissues) > 1:  # each tissue on its own needs genotyped samples (the union is checked below)
            _, counts = match_samples([str(c) for c in expr.columns], vcf_samples, smap, min_samples,
                                      Path(expr_path), first_vcf)
            info["matched_samples"] = counts["matched_samples"]
        if cov_path:
            from seqgx.analysis.covariates import covariates_summary, read_covariates

            info["covariates"] = {"file": str(cov_path), **covariates_summary(
                read_covariates(cov_path, [str(c) for c in expr.columns]))}
        per_tissue[name] = info
        expr_samples += [str(c) for c in expr.columns if str(c) not in set(expr_samples)]
        expr_genes += [str(g) for g in expr.index if str(g) not in set(expr_genes)]
    samples, sample_counts = match_samples(expr_samples, vcf_samples, smap, min_samples, expression,
                                           first_vcf)

    annot_ids = set(genes["gene_id"].astype(str)) | set(genes["gene_id"].astype(str).map(strip_version))
    missing_genes = [g for g in expr_genes if g not in annot_ids and strip_version(g) not in annot_ids]
    if len(missing_genes) == len(expr_genes):
        raise SeqgxError(f"none of the {len(expr_genes)} genes of expression matrix '{expression}' "
                         f"(e.g. '{expr_genes[0]}') is in annotation '{annotation}'; "
                         f"use gene ids of the annotation")
    if missing_genes:
        log.warning("%d of %d expression genes are not in the annotation (e.g. %s); they are skipped",
                    len(missing_genes), len(expr_genes), missing_genes[0])
    summary = {
        "fasta": str(fasta), "vcf": str(first_vcf) if len(vcf_files) == 1 else [str(f) for f in vcf_files],
        "vcf_files": len(vcf_files), "annotation": str(annotation), "expression": str(expression),
        "fasta_contigs": len(fa_contigs), "vcf_contigs_with_records": len(vcf_contigs),
        "annotation_contigs": len(annot_contigs),
        "annotation_contigs_missing_in_fasta": [a for a in annot_contigs if a not in to_fasta],
        "annotation_contigs_without_vcf_records": [a for a in annot_contigs if a not in to_vcf],
        "contigs_renamed": renamed,
        "annotation_genes": int(len(genes)),
        "expression_genes": len(expr_genes),
        "expression_genes_missing_in_annotation": len(missing_genes),
        **sample_counts,
        "tissues": per_tissue,
    }
    return CheckResult(samples=samples, contigs=contigs, summary=summary, vcfs=vcfs)


def write_check_outputs(result: CheckResult, out_dir: str | Path) -> None:
    out = make_output_dir(out_dir)
    with atomic_output(out / "samples.tsv") as tmp:
        result.samples.to_csv(tmp, sep="\t", index=False)
    with atomic_output(out / "contigs.tsv") as tmp:
        result.contigs.to_csv(tmp, sep="\t", index=False)
    with atomic_output(out / "vcfs.tsv") as tmp:
        result.vcfs.to_csv(tmp, sep="\t", index=False)
    with atomic_output(out / "check_summary.json") as tmp:
        tmp.write_text(json.dumps(result.summary, indent=2) + "\n")


def format_summary(summary: dict) -> str:
    s = summary
    lines = [
        f"samples: {s['matched_samples']} matched "
        f"({s['expression_samples_without_genotypes']} expression-only dropped, "
        f"{s['vcf_samples_without_expression']} VCF-only dropped)",
        f"genes: {s['expression_genes']} in expression, {s['annotation_genes']} in annotation, "
        f"{s['expression_genes_missing_in_annotation']} expression genes not annotated",
        f"contigs: {s['annotation_contigs']} annotated, {s['vcf_contigs_with_records']} with VCF records"
        + (f" in {s['vcf_files']} VCF files" if s.get("vcf_files", 1) > 1 else "")
        + (f", renamed {', '.join(s['contigs_renamed'])}" if s["contigs_renamed"] else ""),
    ]
    for name, t in (s.get("tissues") or {}).items():
        cov = t.get("covariates")
        lines.append(f"tissue {name}: {t['expression_genes']} genes, {t['expression_samples']} samples"
                     + (f", {cov['k']} covariates ({cov['n_missing']} samples without)" if cov else ""))
    return "\n".join(lines)
