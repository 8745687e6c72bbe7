"""Genes, their TSS-centred windows and the per-chromosome batches (`seqgx genes`).

The annotation is a GTF (``gene`` records; TSS = gene start on ``+``, gene end on ``-``) or a TSV with
columns ``gene_id, gene_name, chrom, tss, strand`` (1-based TSS); the format is detected from the
content. Each selected gene gets a window of ``window_length`` bp whose 0-based start is
``tss - 1 - window_length // 2``, so the TSS base sits at index ``window_length // 2``.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd

from seqgx.errors import SeqgxError
from seqgx.genome.reference import canonical_contig, is_autosome
from seqgx.io import atomic_output, require_file
from seqgx.log import get_logger

log = get_logger(__name__)

ANNOTATION_COLUMNS = ["gene_id", "gene_name", "chrom", "tss", "strand"]
GENE_COLUMNS = ["gene_id", "gene_name", "chrom", "fasta_contig", "vcf_contig", "tss", "strand",
                "window_start", "window_length", "tss_index"]
WINDOW_MULTIPLE = 128  # Enformer pools to 128 bp bins
_ATTR = re.compile(r'\s*([^\s";]+)\s+(?:"([^"]*)"|([^;\s]+))\s*;?')
_SAFE_GENE_ID = re.compile(r"^[A-Za-z0-9._:+-]+$")


def strip_version(gene_id: str) -> str:
    """'ENSG00000123.4' -> 'ENSG00000123' (a numeric version suffix is dropped)."""
    head, dot, tail = gene_id.rpartition(".")
    return head if dot and tail.isdigit() else gene_id


def _open_text(path: Path):
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt") if gz else open(path)


def _first_data_line(path: Path) -> str:
    with _open_text(path) as fh:
        for line in fh:
            if line.strip() and not line.startswith("#"):
                return line.rstrip("\n")
    return ""


def detect_annotation_format(path: str | Path) -> str:
    """'gtf' or 'tsv', from the first non-comment line."""
    path = Path(path)
    try:
        first = _first_data_line(path)
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise SeqgxError(f"annotation '{path}' cannot be read as text ({exc}); pass a GTF or a TSV") from None
    fields = first.split("\t")
    if len(fields) >= 9 and fields[3].isdigit() and fields[4].isdigit():
        return "gtf"
    if {"gene_id", "chrom", "tss", "strand"} <= set(fields):
        return "tsv"
    raise SeqgxError(f"annotation '{path}' is neither a GTF (9 tab-separated columns) nor a TSV with header "
                     f"{', '.join(ANNOTATION_COLUMNS)}; first line: {first[:80]!r}")


def _read_gtf(path: Path) -> pd.DataFrame:
    rows = []
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if line.startswith("#") or not line.strip():
                continue
            f = line.rstrip("\n").split("\t")
            if len(f) < 9:
                raise SeqgxError(f"annotation '{path}' line {lineno}: {len(f)} columns, a GTF needs 9; "
                                 f"fix the line or pass a TSV annotation")
            if f[2] != "gene":
                continue
            attrs = {m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
                     for m in _ATTR.finditer(f[8])}
            gid = attrs.get("gene_id")
            if not gid:
                raise SeqgxError(f"annotation '{path}' line {lineno}: gene record without gene_id; "
                                 f"add a gene_id attribute")
            if f[6] not in ("+", "-"):
                raise SeqgxError(f"annotation '{path}' line {lineno}: gene '{gid}' has strand {f[6]!r}; "
                                 f"expected '+' or '-'")
            try:
                start, end = int(f[3]), int(f[4])
            except ValueError:
                raise SeqgxError(f"annotation '{path}' line {lineno}: start/end are not integers; "
                                 f"fix the line") from None
            rows.append((gid, attrs.get("gene_name") or gid, f[0], start if f[6] == "+" else end, f[6],
                         attrs.get("gene_type") or attrs.get("gene_biotype") or ""))
    if not rows:
        raise SeqgxError(f"annotation '{path}' has no 'gene' records (column 3); add gene records "
                         f"or pass a TSV annotation (gene_id, gene_name, chrom, tss, strand)")
    return pd.DataFrame(rows, columns=[*ANNOTATION_COLUMNS, "gene_type"])


def _read_tsv(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, comment=None, compression="infer")
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SeqgxError(f"annotation '{path}' is not a valid TSV ({exc}); fix the table") from None
    if "gene_name" not in table.columns:
        table["gene_name"] = table["gene_id"]
    if "gene_type" not in table.columns:  # GENCODE's name; Ensembl's gene_biotype also read
        table["gene_type"] = table["gene_biotype"] if "gene_biotype" in table.columns else ""
    table = table[[*ANNOTATION_COLUMNS, "gene_type"]].copy()
    table["gene_name"] = table["gene_name"].fillna(table["gene_id"])
    table["gene_type"] = table["gene_type"].fillna("")
    bad_tss = ~table["tss"].fillna("").str.fullmatch(r"\d+")
    if bad_tss.any():
        i = int(np.flatnonzero(bad_tss.to_numpy())[0])
        raise SeqgxError(f"annotation '{path}' row {i + 2}: tss {table['tss'].iloc[i]!r} of gene "
                         f"'{table['gene_id'].iloc[i]}' is not a positive integer; use 1-based positions")
    table["tss"] = table["tss"].astype(np.int64)
    bad = ~table["strand"].isin(["+", "-"]) | (table["tss"] < 1) | table["gene_id"].isna() \
        | table["chrom"].isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SeqgxError(f"annotation '{path}' row {i + 2}: gene '{table['gene_id'].iloc[i]}' needs a "
                         f"gene_id, chrom, tss >= 1 and strand '+' or '-'; fix the row")
    return table


def read_annotation(path: str | Path) -> pd.DataFrame:
    """Genes of a GTF or TSV annotation: columns gene_id, gene_name, chrom, tss (1-based), strand, gene_type
    (GTF ``gene_type`` or ``gene_biotype``, a TSV's column of either name; '' where not given).

    Duplicate gene ids keep their first record (logged).
    """
    path = require_file(path, "annotation", "pass a GTF or a TSV (gene_id, gene_name, chrom, tss, strand)")
    fmt = detect_annotation_format(path)
    table = _read_gtf(path) if fmt == "gtf" else _read_tsv(path)
    table = table.astype({"gene_id": str, "gene_name": str, "chrom": str, "strand": str})
    dup = table["gene_id"].duplicated()
    if dup.any():
        log.warning("annotation %s: %d duplicate gene ids kept once (first: %s)", path, int(dup.sum()),
                    table["gene_id"][dup].iloc[0])
        table = table[~dup]
    table["tss"] = table["tss"].astype(np.int64)
    log.info("annotation %s (%s): %d genes", path, fmt, len(table))
    return table.reset_index(drop=True)


def read_gene_list(path: str | Path) -> list[str]:
    """Gene ids or names, one per line (blank lines and '#' comments ignored)."""
    path = require_file(path, "gene list", "pass a file with one gene id or name per line")
    with _open_text(path) as fh:
        items = [line.split("\t")[0].strip() for line in fh]
    return [s for s in items if s and not s.startswith("#")]


def read_contigs(path: str | Path) -> pd.DataFrame:
    """contigs.tsv of check-inputs: annotation_contig, fasta_contig, vcf_contig[, fasta_length].

    ``fasta_length`` (written by check-inputs since the TSS check) is optional so older maps still work;
    without it a TSS past its contig's end is caught by 'seqgx personalize' instead.
    """
    path = require_file(path, "contig map", "pass the contigs.tsv written by 'seqgx check-inputs'")
    table = pd.read_csv(path, sep="\t", dtype=str)
    need = ["annotation_contig", "fasta_contig", "vcf_contig"]
    if not set(need) <= set(table.columns):
        raise SeqgxError(f"contig map '{path}' needs columns {', '.join(need)}; found "
                         f"{', '.join(map(str, table.columns))}; re-run 'seqgx check-inputs'")
    table = table[need + (["fasta_length"] if "fasta_length" in table.columns else [])]
    table = table.dropna(subset=need).copy()
    if "fasta_length" in table.columns:
        bad = ~table["fasta_length"].fillna("").str.fullmatch(r"\d+")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            value = table["fasta_length"].iloc[i]
            raise SeqgxError(f"contig map '{path}' row {i + 2}: fasta_length {value!r} is not a whole "
                             f"number; re-run 'seqgx check-inputs'")
        table["fasta_length"] = table["fasta_length"].astype(np.int64)
    return table


def _chromosome_filter(chroms: pd.Series, chromosomes: str) -> pd.Series:
    spec = (chromosomes or "autosomes").strip()
    if spec == "autosomes":
        return chroms.map(is_autosome)
    if spec == "all":
        return pd.Series(True, index=chroms.index)
    wanted = {canonical_contig(c.strip()) for c in spec.split(",") if c.strip()}
    return chroms.map(lambda c: canonical_contig(c) in wanted)


def parse_gene_types(spec: str | None) -> set[str] | None:
    """``gene_types`` as a set; None for 'all' (or empty): no filter."""
    types = {t.strip() for t in str(spec or "").split(",") if t.strip()}
    return None if not types or "all" in {t.lower() for t in types} else types


def select_genes(annotation: pd.DataFrame, gene_list: list[str] | None = None,
                 chromosomes: str = "autosomes", expression_genes: list[str] | None = None,
                 source: str = "annotation", gene_list_path: str = "gene list",
                 gene_types: set[str] | None = None) -> pd.DataFrame:
    """Filter the annotation by gene list (ids with/without version, or names), chromosomes, gene type
    (``gene_types``; genes whose annotation gives no type are kept and counted), expression."""
    genes = annotation
    if gene_types is not None and "gene_type" in genes.columns:
        typed = genes["gene_type"].fillna("").astype(str)
        keep = typed.isin(gene_types) | (typed == "")
        if (typed == "").all():
            log.warning("annotation %s gives no gene_type/gene_biotype: gene_types %s not applied", source,
                        ",".join(sorted(gene_types)))
        elif (typed == "").any():
            log.warning("%d genes of %s have no gene_type; kept", int((typed == "").sum()), source)
        if not keep.all():
            log.info("%d genes dropped: gene_type not in %s", int((~keep).sum()),
                     ",".join(sorted(gene_types)))
        genes = genes[keep.to_numpy(bool)]
        if genes.empty:
            raise SeqgxError(f"no gene of '{source}' has a gene_type in {','.join(sorted(gene_types))}; set "
                             f"gene_types to types of the annotation (e.g. protein_coding) or 'all'")
    if gene_list is not None:
        ids = genes["gene_id"]
        bare = ids.map(strip_version)
        wanted = set(gene_list)
        wanted_bare = {strip_version(g) for g in gene_list}
        keep = ids.isin(wanted) | bare.isin(wanted_bare) | genes["gene_name"].isin(wanted)
        found = set(ids[keep]) | set(bare[keep]) | set(genes["gene_name"][keep])
        unknown = [g for g in gene_list if g not in found and strip_version(g) not in found]
        if unknown:
            log.warning("%d of %d entries of gene list %s match no gene of %s (first: %s)", len(unknown),
                        len(gene_list), gene_list_path, source, unknown[0])
        genes = genes[keep]
        if genes.empty:
            raise SeqgxError(f"none of the {len(gene_list)} entries of gene list '{gene_list_path}' "
                             f"(first: {gene_list[0] if gene_list else 'none'}) is a gene id or name of "
                             f"'{source}'; fix the gene list")
    chrom_ok = _chromosome_filter(genes["chrom"], chromosomes)
    if not chrom_ok.all():
        log.info("%d genes dropped: not on chromosomes '%s'", int((~chrom_ok).sum()), chromosomes)
    genes = genes[chrom_ok.to_numpy(bool)]
    if genes.empty:
        raise SeqgxError(f"no gene of '{source}' is on chromosomes '{chromosomes}'; use --chromosomes all "
                         f"or a comma list of the annotation's contigs")
    if expression_genes is not None:
        expr = set(expression_genes) | {strip_version(g) for g in expression_genes}
        in_expr = genes["gene_id"].isin(expr) | genes["gene_id"].map(strip_version).isin(expr)
        if not in_expr.all():
            log.info("%d genes dropped: not in the expression matrix", int((~in_expr).sum()))
        genes = genes[in_expr.to_numpy(bool)]
        if genes.empty:
            raise SeqgxError(f"no selected gene of '{source}' is in the expression matrix; check that gene "
                             f"ids agree (versions are ignored) and the chromosomes")
    return genes.reset_index(drop=True)


def _natural_key(name: str) -> tuple:
    c = canonical_contig(name)
    return (0, int(c), "") if c.isdigit() else (1, 0, c)


def make_windows(genes: pd.DataFrame, window_length: int = 196608,
                 contigs: pd.DataFrame | None = None, contigs_path: str = "contig map") -> pd.DataFrame:
    """Add contig names and windows; sort by chromosome and TSS. Columns are :data:`GENE_COLUMNS`."""
    check_window_length(window_length)
    genes = genes.copy()
    if contigs is None:
        genes["fasta_contig"] = genes["chrom"]
        genes["vcf_contig"] = genes["chrom"]
    else:
        fasta = dict(zip(contigs["annotation_contig"], contigs["fasta_contig"], strict=True))
        vcf = dict(zip(contigs["annotation_contig"], contigs["vcf_contig"], strict=True))
        mapped = genes["chrom"].isin(fasta)
        if not mapped.all():
            missing = sorted(set(genes["chrom"][~mapped]))
            log.warning("%d genes dropped: contigs %s not in contig map %s", int((~mapped).sum()),
                        ",".join(missing[:5]), contigs_path)
        genes = genes[mapped.to_numpy(bool)].copy()
        if genes.empty:
            raise SeqgxError(f"no selected gene's contig is in contig map '{contigs_path}'; re-run "
                             f"'seqgx check-inputs' with the same annotation")
        genes["fasta_contig"] = genes["chrom"].map(fasta)
        genes["vcf_contig"] = genes["chrom"].map(vcf)
        if "fasta_length" in contigs.columns:
            lengths = dict(zip(contigs["annotation_contig"], contigs["fasta_length"], strict=True))
            check_tss_in_contig(genes, genes["chrom"].map(lengths), f"contig map '{contigs_path}'")
    bad = ~genes["gene_id"].map(lambda g: bool(_SAFE_GENE_ID.match(g)))
    if bad.any():
        raise SeqgxError(f"gene id {genes['gene_id'][bad].iloc[0]!r} has characters unsafe in file names; "
                         f"use ids of letters, digits and . _ : + -")
    half = window_length // 2
    genes["window_start"] = genes["tss"].astype(np.int64) - 1 - half
    genes["window_length"] = int(window_length)
    genes["tss_index"] = half
    order = sorted(range(len(genes)), key=lambda i: (_natural_key(genes["chrom"].iloc[i]),
                                                     int(genes["tss"].iloc[i]), genes["gene_id"].iloc[i]))
    return genes.iloc[order][GENE_COLUMNS].reset_index(drop=True)


def check_tss_in_contig(genes: pd.DataFrame, lengths: pd.Series, source: str) -> None:
    """A TSS outside its contig (< 1 or > the FASTA contig's length) is an error, never an all-N window.

    ``lengths`` holds each gene's FASTA contig length (aligned with ``genes``).
    """
    tss = genes["tss"].astype(np.int64).to_numpy()
    length = lengths.to_numpy(np.int64)
    bad = np.flatnonzero((tss < 1) | (tss > length))
    if len(bad):
        g = genes.iloc[int(bad[0])]
        raise SeqgxError(f"gene '{g['gene_id']}' has its TSS at {int(g['tss'])}, outside contig "
                         f"'{g['fasta_contig']}' of length {int(length[bad[0]])} ({source}; {len(bad)} such "
                         f"genes); the annotation and FASTA are of different assemblies: use matching files "
                         f"or drop the gene")


def check_window_length(window_length: int, where: str = "--window-length") -> None:
    if window_length < WINDOW_MULTIPLE or window_length % WINDOW_MULTIPLE:
        raise SeqgxError(f"{where} {window_length} is not a positive multiple of {WINDOW_MULTIPLE}; "
                         f"use e.g. 196608 (Enformer) or 2048")


def _safe_name(chrom: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", chrom)


def split_batches(genes: pd.DataFrame, genes_per_batch: int = 50) -> dict[str, pd.DataFrame]:
    """Batches of at most ``genes_per_batch`` genes of one chromosome, named ``<chrom>_<k>`` (k from 1)."""
    if genes_per_batch < 1:
        raise SeqgxError(f"--genes-per-batch {genes_per_batch} must be >= 1")
    batches: dict[str, pd.DataFrame] = {}
    for chrom in dict.fromkeys(genes["chrom"]):
        sub = genes[genes["chrom"] == chrom]
        for k, lo in enumerate(range(0, len(sub), genes_per_batch), 1):
            batches[f"{_safe_name(chrom)}_{k}"] = sub.iloc[lo:lo + genes_per_batch].reset_index(drop=True)
    return batches


def write_genes(genes: pd.DataFrame, out_dir: str | Path, genes_per_batch: int = 50) -> dict[str, Path]:
    """Write ``genes.tsv`` and ``batches/<chrom>_<k>.tsv``; return the batch paths by name."""
    out = Path(out_dir)
    batches = split_batches(genes, genes_per_batch)
    with atomic_output(out / "genes.tsv") as tmp:
        genes.to_csv(tmp, sep="\t", index=False)
    paths = {}
    with atomic_output(out / "batches", directory=True) as tmp_dir:
        for name, table in batches.items():
            table.to_csv(tmp_dir / f"{name}.tsv", sep="\t", index=False)
            paths[name] = out / "batches" / f"{name}.tsv"
    return paths


def read_batch(path: str | Path) -> pd.DataFrame:
    """A batch (or genes.tsv) file, checked: columns, at least one gene, consistent windows."""
    path = require_file(path, "batch file", "pass a file from 'seqgx genes' (DIR/batches/<chrom>_<k>.tsv)")
    try:
        table = pd.read_csv(path, sep="\t", dtype={"gene_id": str, "gene_name": str, "chrom": str,
                                                    "fasta_contig": str, "vcf_contig": str, "strand": str})
    except pd.errors.EmptyDataError:
        raise SeqgxError(f"batch file '{path}' is empty; re-run 'seqgx genes'") from None
    missing = [c for c in GENE_COLUMNS if c not in table.columns]
    if missing:
        raise SeqgxError(f"batch file '{path}' lacks columns {', '.join(missing)}; re-run 'seqgx genes'")
    if table.empty:
        raise SeqgxError(f"batch file '{path}' has no genes; re-run 'seqgx genes' or drop this batch")
    for i, row in enumerate(table.itertuples(index=False), 2):
        L = int(row.window_length)
        check_window_length(L, where=f"batch file '{path}' line {i}: window_length")
        if int(row.window_start) != int(row.tss) - 1 - L // 2 or int(row.tss_index) != L // 2:
            raise SeqgxError(f"batch file '{path}' line {i}: gene '{row.gene_id}' window_start/tss_index "
                             f"disagree with tss and window_length; re-run 'seqgx genes'")
    return table
