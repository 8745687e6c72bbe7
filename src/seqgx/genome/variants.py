"""SNVs and genotypes of one window from a bgzipped, indexed VCF or BCF.

Speed matters here: a 196,608 bp window of a cohort VCF holds thousands of records x hundreds of
samples, and pysam's per-sample genotype access costs ~1 us per call. Instead each record's raw text
line is taken (tabix for .vcf.gz, ``str(record)`` for BCF) and the GT fields of all records are parsed
at once with numpy on the bytes: for the common case (GT first in FORMAT, single-digit alleles) the
allele digits and the phase separator sit at fixed offsets after each sample's tab. Records that do
not fit (multi-digit alleles, polyploid calls, GT not first) go through a plain Python parser.

Rules (see docs/formats.md, "Personal haplotypes"):

- Alleles are trimmed to their minimal form (common suffix, then common prefix), so an alt allele is an
  SNV when one base remains on each side. Indels, MNVs, symbolic alleles (``<...>``, breakends, ``*``)
  and non-ACGT alleles are skipped and counted per alt allele (only records starting in the window).
- Each SNV alt allele of a multi-allelic site is its own variant; a haplotype carries it when its GT
  allele index equals that allele.
- A record whose REF holds a base other than A, C, G, T (``N``, IUPAC codes) is skipped and counted
  as ``ref_n_skipped`` (per record with POS in the window): its alleles cannot be placed on a base.
- REF must equal the FASTA (IUPAC codes compare as N); policy ``ref_mismatch``: error | skip.
- A GT allele index beyond the record's alleles (``0|3`` on a biallelic record), or an alt allele
  index on a record with ALT ``.``, is an error naming the record and sample; so is a polyploid call.
- Missing alleles (``.``, whole or partial) become the reference allele and are counted, or stop the
  run with ``missing='error'``.
- Unphased heterozygous calls stop the run, or with ``unphased='random'`` get a random phase from a
  hash of (seed, contig, position, sample id): the same call gets the same phase in every window and
  batch. Unphased homozygous calls are unambiguous. Haploid calls count as homozygous (both
  haplotypes carry the allele: dosage 2), counted as ``haploid_as_homozygous``.
- Records are used whatever their FILTER; filter the VCF upstream (``bcftools view -f PASS``).

A cohort may come as several files (e.g. one per chromosome): :func:`resolve_vcfs` lists them from
files, globs and samplesheets, and :func:`vcf_contig_files` says which file holds each contig, so a
task reads only the file of its batch's chromosome.
"""

from __future__ import annotations

import csv
import glob
import os
import re
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pysam

from seqgx.errors import SeqgxError
from seqgx.genome.reference import Reference, contig_map, encode
from seqgx.io import check_index_fresh, refuse_plain_gzip, require_file

COUNT_KEYS = ("records_in_window", "snv_alleles", "indels_skipped", "mnv_skipped", "symbolic_skipped",
              "non_acgt_skipped", "ref_n_skipped", "ref_mismatch_skipped", "missing_as_reference",
              "unphased_randomly_phased", "haploid_as_homozygous")
_ACGT = frozenset("ACGT")
_LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)
_GT_SPLIT = re.compile(r"[|/]")


@dataclass(frozen=True)
class Policy:
    """How to handle imperfect records; the defaults stop on anything ambiguous."""

    ref_mismatch: str = "error"  # error | skip
    unphased: str = "error"  # error | random
    missing: str = "reference"  # reference | error
    phase_seed: int = 0

    def __post_init__(self) -> None:
        for name, allowed in (("ref_mismatch", ("error", "skip")), ("unphased", ("error", "random")),
                              ("missing", ("reference", "error"))):
            if getattr(self, name) not in allowed:
                raise SeqgxError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")


@dataclass
class WindowVariants:
    """SNV alt alleles of one window (position order) and their haplotypes for the chosen samples."""

    pos: np.ndarray  # int64 (V,), 1-based
    ref: np.ndarray  # <U1 (V,)
    alt: np.ndarray  # <U1 (V,)
    haplotypes: np.ndarray  # bool (V, S, 2)
    counts: dict[str, int] = field(default_factory=dict)


def classify_allele(ref: str, alt: str | None) -> tuple[str, int, str, str]:
    """(kind, offset, ref_base, alt_base) of one alt allele after trimming to its minimal form.

    kind is 'snv', 'indel', 'mnv', 'symbolic', 'non_acgt' or 'none' (no alt / alt equals ref);
    offset is the SNV's position minus the record's POS.
    """
    if alt is None or alt in (".", ""):
        return "none", 0, "", ""
    if alt[0] == "<" or alt == "*" or "[" in alt or "]" in alt:
        return "symbolic", 0, "", ""
    r, a = ref.upper(), alt.upper()
    while len(r) > 1 and len(a) > 1 and r[-1] == a[-1]:
        r, a = r[:-1], a[:-1]
    off = 0
    while len(r) > 1 and len(a) > 1 and r[0] == a[0]:
        r, a, off = r[1:], a[1:], off + 1
    if len(r) != len(a):
        return "indel", 0, "", ""
    if r == a:
        return "none", 0, "", ""
    if len(r) > 1:
        return "mnv", 0, "", ""
    if a not in _ACGT or r not in _ACGT:
        return "non_acgt", 0, "", ""
    return "snv", off, r, a


def vcf_index(path: Path) -> Path | None:
    """The index beside a VCF/BCF (.tbi or .csi), or None."""
    for suffix in (".tbi", ".csi"):
        idx = Path(str(path) + suffix)
        if idx.is_file():
            return idx
    return None


def _check_vcf_file(vcf: Path) -> Path:
    """The VCF's index, after the checks that need no parsing: bgzip (not plain gzip), index, index age."""
    index = vcf_index(vcf)
    reindex = f"bcftools index -f {'-c' if index is not None and index.suffix == '.csi' else '-t'} {vcf}"
    refuse_plain_gzip(vcf, "VCF", reindex)
    if index is None:
        raise SeqgxError(f"VCF '{vcf}' has no index (.tbi or .csi); bgzip it and run "
                         f"'bcftools index -t {vcf}' (or 'tabix -p vcf {vcf}')")
    check_index_fresh(vcf, index, "VCF", reindex)
    return index


def _no_samples(vcf: Path) -> SeqgxError:
    return SeqgxError(f"VCF '{vcf}' has no samples (sites-only VCF); pass the cohort VCF with genotypes "
                      f"(FORMAT/GT and one column per sample)")


def vcf_contigs_and_samples(vcf: Path) -> tuple[list[str], list[str]]:
    """Contigs with records (from the index) and sample ids of an indexed, bgzipped VCF or BCF.

    Also probes the index: a fetch on the first indexed contig must read records, else the index does
    not match the file.
    """
    index = _check_vcf_file(vcf)
    try:
        with pysam.VariantFile(str(vcf)) as vf:
            samples = list(vf.header.samples)
            if vf.index is None:
                raise SeqgxError(f"VCF '{vcf}' has an index pysam cannot open; re-create it with "
                                 f"'bcftools index -t {vcf}'")
            contigs = list(vf.index)
    except (ValueError, OSError) as exc:
        raise SeqgxError(f"VCF '{vcf}' cannot be read ({exc}); it must be bgzipped VCF or BCF") from None
    if not samples:
        raise _no_samples(vcf)
    if contigs:
        try:
            with pysam.VariantFile(str(vcf)) as vf:
                found = next(iter(vf.fetch(contigs[0])), None) is not None
        except (ValueError, OSError, StopIteration):
            found = False
        if not found:
            raise SeqgxError(f"VCF index '{index}' does not match VCF '{vcf}' (no record found on its first "
                             f"contig '{contigs[0]}'); re-index with 'bcftools index -f -t {vcf}'")
    return contigs, samples


# -- sets of VCFs (e.g. one per chromosome) -------------------------------------------------------

_SHEET_SUFFIXES = {".csv": ",", ".tsv": "\t"}
_INDEX_SUFFIXES = (".tbi", ".csi")
_VCF_FIX = "set 'vcf' to a bgzipped, indexed VCF/BCF, a glob of them or a samplesheet (contig,vcf)"


def resolve_vcfs(specs: str | Path | Sequence[str | Path]) -> list[Path]:
    """The VCF/BCF files that ``specs`` name, as absolute paths, in order and without duplicates.

    Each spec is a VCF/BCF file, a glob pattern (``*``, ``?`` or ``[``; expanded in sorted order,
    index files left out) or a samplesheet ``.csv``/``.tsv`` with a header holding a ``vcf`` column and
    optionally a ``contig`` column. Sheet paths are relative to the sheet's folder; a sheet row that
    names a contig must point to a file with records on it. Paths stay unresolved symlinks, so a staged
    file (Nextflow) keeps its staged name.
    """
    if isinstance(specs, str | Path):
        specs = [specs]
    if not specs:
        raise SeqgxError(f"no VCF given; {_VCF_FIX}")
    files: list[Path] = []
    for spec in map(str, specs):
        if not Path(spec).exists() and any(ch in spec for ch in "*?["):
            matches = [m for m in sorted(glob.glob(spec)) if not m.endswith(_INDEX_SUFFIXES)]
            if not matches:
                raise SeqgxError(f"VCF pattern '{spec}' matches no file; fix the folder or pattern (a "
                                 f"relative pattern is relative to the folder you run from)")
            files += [require_file(m, "VCF", _VCF_FIX) for m in matches]
        elif Path(spec).suffix.lower() in _SHEET_SUFFIXES:
            files += _read_vcf_sheet(require_file(spec, "VCF samplesheet", _VCF_FIX))
        else:
            files.append(require_file(spec, "VCF", _VCF_FIX))
    # abspath, not resolve(): normalise without following symlinks (see the docstring).
    return list(dict.fromkeys(Path(os.path.abspath(f)) for f in files))


def _read_vcf_sheet(sheet: Path) -> list[Path]:
    """The files of a samplesheet (header with a ``vcf`` column, optional ``contig`` column)."""
    with open(sheet, newline="", encoding="utf-8-sig") as fh:  # utf-8-sig: spreadsheet BOMs
        reader = csv.DictReader(fh, delimiter=_SHEET_SUFFIXES[sheet.suffix.lower()])
        header = [h.strip() for h in reader.fieldnames or []]
        if "vcf" not in header:
            found = ", ".join(header) or "nothing"
            sep = "comma" if sheet.suffix.lower() == ".csv" else "tab"
            raise SeqgxError(f"VCF samplesheet '{sheet}' line 1: the header needs a 'vcf' column (found "
                             f"{found}); write a {sep}-separated header 'contig, vcf' then one row per VCF")
        reader.fieldnames = header
        rows = [(reader.line_num, row) for row in reader]
    if not rows:
        raise SeqgxError(f"VCF samplesheet '{sheet}' has no rows; add one row per VCF under the header")
    files = []
    for line, row in rows:
        value = (row.get("vcf") or "").strip()
        where = f"VCF samplesheet '{sheet}' line {line}"
        if not value:
            raise SeqgxError(f"{where}: the vcf column is empty; give the VCF's path (relative to the "
                             f"sheet's folder) or drop the row")
        path = sheet.parent / value  # an absolute value replaces the sheet's folder
        if not path.is_file():
            raise SeqgxError(f"{where}: VCF '{path}' does not exist; fix the path (relative paths are "
                             f"relative to the sheet's folder)")
        contig = (row.get("contig") or "").strip()
        if contig:
            with_records = vcf_contigs_and_samples(path)[0]
            if not contig_map([contig], with_records, where, f"VCF '{path}'"):
                raise SeqgxError(f"{where}: VCF '{path}' has no records on contig '{contig}' (it has "
                                 f"{', '.join(with_records[:5]) or 'none'}); fix the contig or the file")
        files.append(path)
    return files


def vcf_contig_files(files: Sequence[str | Path],
                     contigs: Mapping[Path, Sequence[str]] | None = None) -> dict[str, Path]:
    """Each contig with records (as the VCF names it, from the index) -> the file that holds it.

    ``contigs`` (file -> its contigs with records) saves reading indexes the caller has read already.
    A contig with records in two files is an error: a window must come from one file.
    """
    out: dict[str, Path] = {}
    for f in map(Path, files):
        names = contigs[f] if contigs is not None else vcf_contigs_and_samples(f)[0]
        for contig in names:
            if contig in out:
                raise SeqgxError(f"contig '{contig}' has records in VCF '{out[contig]}' and in VCF '{f}'; "
                                 f"give each contig's records in one file only (split or drop one)")
            out[contig] = f
    return out


class VcfReader:
    """An indexed VCF/BCF opened for window reads of a fixed list of samples (in that order)."""

    def __init__(self, path: str | Path, samples: list[str] | None = None, samples_source: str = "samples"):
        self.path = Path(path)
        if not self.path.is_file():
            raise SeqgxError(f"VCF '{self.path}' does not exist; pass a bgzipped VCF or BCF")
        _check_vcf_file(self.path)
        try:
            self._vf = pysam.VariantFile(str(self.path))
        except (ValueError, OSError) as exc:
            raise SeqgxError(f"VCF '{self.path}' cannot be read ({exc}); it must be bgzipped VCF or BCF") \
                from None
        self.is_bcf = self._vf.format == "BCF"
        self._tbx = None
        if not self.is_bcf:
            if self._vf.compression != "BGZF":
                raise SeqgxError(f"VCF '{self.path}' is not bgzip-compressed; run 'bgzip' then "
                                 f"'tabix -p vcf' on it")
            # Latin-1 never fails to decode and maps bytes 1:1, so tabs/newlines stay where they were.
            try:
                self._tbx = pysam.TabixFile(str(self.path), index=str(vcf_index(self.path)),
                                            encoding="latin-1")
            except (OSError, ValueError) as exc:
                raise SeqgxError(f"VCF '{self.path}' index cannot be opened ({exc}); re-create it with "
                                 f"'tabix -p vcf {self.path}'") from None
        self.header_samples = list(self._vf.header.samples)
        if not self.header_samples:
            self.close()
            raise _no_samples(self.path)
        self.header_contigs = set(self._vf.header.contigs)
        self.index_contigs = set(self._tbx.contigs) if self._tbx is not None else set(self._vf.index or [])
        col = {s: i for i, s in enumerate(self.header_samples)}
        chosen = list(self.header_samples) if samples is None else list(samples)
        seen: set[str] = set()
        for s in chosen:
            if s in seen:
                raise SeqgxError(f"{samples_source}: sample '{s}' is listed twice; list each VCF sample once "
                                 f"(re-run 'seqgx check-inputs')")
            seen.add(s)
            if s not in col:
                raise SeqgxError(f"{samples_source}: sample '{s}' is not in VCF '{self.path}'; "
                                 f"re-run 'seqgx check-inputs' with this VCF")
        self.samples = chosen
        self.columns = np.array([col[s] for s in chosen], dtype=np.int64)
        self._sample_hash = np.array([zlib.crc32(s.encode()) for s in chosen], dtype=np.uint64)

    def close(self) -> None:
        self._vf.close()
        if self._tbx is not None:
            self._tbx.close()

    def __enter__(self) -> VcfReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- records -------------------------------------------------------------------------------
    def _records(self, contig: str, start: int, end: int):
        """(pos, ref, alts, line) of records overlapping 0-based [start, end)."""
        if contig not in self.index_contigs:
            if contig in self.header_contigs:
                return  # declared but without records
            raise SeqgxError(f"contig '{contig}' is not in VCF '{self.path}'; check the contig map "
                             f"(contigs.tsv from 'seqgx check-inputs')")
        try:
            if self._tbx is not None:
                for line in self._tbx.fetch(contig, start, end):
                    f = line.split("\t", 5)
                    alts = None if f[4] == "." else tuple(f[4].split(","))
                    yield int(f[1]), f[3], alts, line
            else:
                for rec in self._vf.fetch(contig, start, end):
                    yield rec.pos, rec.ref, rec.alts, str(rec).rstrip("\n")
        except (OSError, ValueError) as exc:  # a stale or foreign index points into the wrong bytes
            raise SeqgxError(f"VCF '{self.path}' cannot be read at {contig}:{start + 1}-{end} ({exc}); its "
                             f"index does not match the file: re-index with "
                             f"'bcftools index -f -t {self.path}'") from None

    def read_window(self, contig: str, start: int, end: int, reference: np.ndarray,
                    fasta: Reference | None = None, fasta_contig: str | None = None,
                    policy: Policy | None = None) -> WindowVariants:
        """SNVs with POS in 0-based window [start, end) and their haplotypes.

        ``reference`` holds the window's FASTA tokens (length end - start); ``fasta`` is used only to
        check a REF that reaches outside the window.
        """
        policy = policy or Policy()
        counts: Counter[str] = Counter({k: 0 for k in COUNT_KEYS})
        lines: list[str] = []
        rec_names: list[str] = []
        rec_pos: list[int] = []
        v_rec: list[int] = []
        v_allele: list[int] = []
        v_pos: list[int] = []
        v_ref: list[str] = []
        v_alt: list[str] = []
        cache: dict[tuple[str, str | None], tuple[str, int, str, str]] = {}
        fasta_name = fasta.path if fasta is not None else "FASTA"
        window_text = _LETTERS[reference].tobytes().decode("ascii")  # REF checks compare characters
        no_alt_lines: list[str] = []
        no_alt_names: list[str] = []
        rec_alleles: list[int] = []
        for pos, ref, alts, line in self._records(contig, max(start, 0), end):
            in_window = start < pos <= end
            counts["records_in_window"] += in_window
            if not _ACGT.issuperset(ref.upper()):
                counts["ref_n_skipped"] += in_window
                continue
            if not alts:
                if in_window:  # ALT '.': every call must be the reference (or missing)
                    no_alt_lines.append(line)
                    no_alt_names.append(f"{contig}:{pos}")
                continue
            kept = []
            for k, alt in enumerate(alts or (), 1):
                key = (ref, alt)
                cls = cache.get(key)
                if cls is None:
                    cls = cache[key] = classify_allele(ref, alt)
                kind, off, rb, ab = cls
                if kind == "snv":
                    if start < pos + off <= end:
                        kept.append((k, pos + off, rb, ab))
                elif kind != "none" and in_window:
                    counts[f"{kind}_skipped" if kind != "indel" else "indels_skipped"] += 1
            if not kept:
                continue
            mismatch = self._ref_mismatch(ref, pos, start, reference, window_text, fasta,
                                          fasta_contig or contig)
            if mismatch is not None:
                if policy.ref_mismatch == "error":
                    raise SeqgxError(f"VCF '{self.path}' record {contig}:{pos}: REF {ref} but FASTA "
                                     f"'{fasta_name}' has {mismatch}; fix the VCF (same genome build?) "
                                     f"or use --ref-mismatch skip")
                counts["ref_mismatch_skipped"] += 1
                continue
            r = len(lines)
            lines.append(line)
            rec_names.append(f"{contig}:{pos}")
            rec_pos.append(pos)
            rec_alleles.append(len(alts or ()))
            for k, p, rb, ab in kept:
                v_rec.append(r)
                v_allele.append(k)
                v_pos.append(p)
                v_ref.append(rb)
                v_alt.append(ab)
        S = len(self.samples)
        if no_alt_lines:
            no_alt, _, _ = parse_gt(no_alt_lines, self.columns, len(self.header_samples), self.path)
            self._check_allele_range(no_alt, np.zeros(len(no_alt_lines), np.int64), no_alt_names)
        if not lines:
            return WindowVariants(np.zeros(0, np.int64), np.zeros(0, "<U1"), np.zeros(0, "<U1"),
                                  np.zeros((0, S, 2), bool), dict(counts))
        alleles, phased, haploid = parse_gt(lines, self.columns, len(self.header_samples), self.path)
        self._check_allele_range(alleles, np.asarray(rec_alleles, np.int64), rec_names)
        self._apply_policies(alleles, phased, haploid, rec_names, np.asarray(rec_pos, np.uint64), contig,
                             policy, counts)
        rec = np.asarray(v_rec)
        haps = alleles[rec] == np.asarray(v_allele, dtype=alleles.dtype)[:, None, None]
        pos_arr = np.asarray(v_pos, dtype=np.int64)
        order = np.argsort(pos_arr, kind="stable")  # split alleles may trim to positions out of order
        counts["snv_alleles"] = len(v_pos)
        return WindowVariants(pos_arr[order], np.asarray(v_ref, "<U1")[order],
                              np.asarray(v_alt, "<U1")[order], haps[order], dict(counts))

    def _check_allele_range(self, alleles: np.ndarray, n_alts: np.ndarray, rec_names: list[str]) -> None:
        """A GT allele index above the record's number of ALT alleles is an error, never the reference."""
        bad = alleles > n_alts[:, None, None]
        if not bad.any():
            return
        r, s, h = np.argwhere(bad)[0]
        n = int(n_alts[r])
        if n == 0:
            raise SeqgxError(f"VCF '{self.path}' record {rec_names[r]}, sample {self.samples[s]}: ALT '.' "
                             f"(no alt allele) but GT allele {int(alleles[r, s, h])}; fix the record's ALT "
                             f"or its genotypes, or drop the record")
        raise SeqgxError(f"VCF '{self.path}' record {rec_names[r]}, sample {self.samples[s]}: GT allele "
                         f"{int(alleles[r, s, h])} but the record has only {n} ALT allele"
                         f"{'s' if n > 1 else ''} ({int(bad.sum())} such calls in this window); fix the "
                         f"genotypes or the ALT column, or drop the record")

    @staticmethod
    def _ref_mismatch(ref: str, pos: int, start: int, reference: np.ndarray, window_text: str,
                      fasta: Reference | None, contig: str) -> str | None:
        """None when REF equals the FASTA (IUPAC codes as N), else the FASTA bases."""
        lo = pos - 1 - start
        if len(ref) == 1 and 0 <= lo < len(reference):
            want = ref.upper()
            if want not in _ACGT:
                want = "N"
            got = window_text[lo]
            return None if want == got else got
        if 0 <= lo and lo + len(ref) <= len(reference):
            got_t = reference[lo:lo + len(ref)]
        elif fasta is not None:
            got_t = fasta.fetch(contig, pos - 1, pos - 1 + len(ref))
        else:
            return None  # cannot check outside the window without the FASTA
        if np.array_equal(encode(ref), got_t):
            return None
        return "".join("ACGTN"[t] for t in got_t.tolist())

    def _apply_policies(self, alleles: np.ndarray, phased: np.ndarray, haploid: np.ndarray,
                        rec_names: list[str], rec_pos: np.ndarray, contig: str, policy: Policy,
                        counts: Counter) -> None:
        missing = alleles < 0
        if missing.any():
            calls = missing[:, :, 0] | missing[:, :, 1]
            if policy.missing == "error":
                r, s = np.argwhere(calls)[0]
                raise SeqgxError(f"VCF '{self.path}': {int(calls.sum())} missing genotype calls in "
                                 f"{int(calls.any(axis=1).sum())} records (first: record {rec_names[r]}, "
                                 f"sample {self.samples[s]}); impute them or use --missing reference")
            counts["missing_as_reference"] += int(calls.sum())
            alleles[missing] = 0
        counts["haploid_as_homozygous"] += int(np.count_nonzero(haploid))
        unphased = ~phased & (alleles[:, :, 0] != alleles[:, :, 1])
        if unphased.any():
            if policy.unphased == "error":
                r, s = np.argwhere(unphased)[0]
                raise SeqgxError(f"VCF '{self.path}': {int(unphased.sum())} unphased heterozygous calls in "
                                 f"{int(unphased.any(axis=1).sum())} records and "
                                 f"{int(unphased.any(axis=0).sum())} samples (first: record {rec_names[r]}, "
                                 f"sample {self.samples[s]}); phase "
                                 f"the VCF (e.g. SHAPEIT/Beagle) or use --unphased random")
            rr, ss = np.nonzero(unphased)
            flip = _hash_bits(policy.phase_seed, zlib.crc32(contig.encode()), rec_pos[rr],
                              self._sample_hash[ss])
            sw = flip.astype(bool)
            a0 = alleles[rr[sw], ss[sw], 0].copy()
            alleles[rr[sw], ss[sw], 0] = alleles[rr[sw], ss[sw], 1]
            alleles[rr[sw], ss[sw], 1] = a0
            counts["unphased_randomly_phased"] += int(unphased.sum())


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _hash_bits(seed: int, contig_hash: int, pos: np.ndarray, sample_hash: np.ndarray) -> np.ndarray:
    """One pseudo-random bit per (seed, contig, pos, sample), independent of window and batch."""
    with np.errstate(over="ignore"):
        h = _splitmix64(np.full(pos.shape, np.uint64(seed % (1 << 64)) ^ np.uint64(contig_hash), np.uint64))
        h = _splitmix64(h ^ pos.astype(np.uint64))
        h = _splitmix64(h ^ sample_hash.astype(np.uint64))
    return (h >> np.uint64(63)).astype(np.uint8)


# Byte lookup tables for the vectorised GT parser.
_ALLELE = np.full(256, -100, dtype=np.int16)  # digit -> 0..9, '.' -> -1, anything else -> -100
_ALLELE[48:58] = np.arange(10)
_ALLELE[ord(".")] = -1
_SEP = np.zeros(256, dtype=np.uint8)  # '|' -> 1, '/' -> 2, field end (':' TAB LF) -> 3
_SEP[ord("|")], _SEP[ord("/")] = 1, 2
_SEP[[ord(":"), 9, 10]] = 3


def parse_gt(lines: list[str], columns: np.ndarray, n_vcf_samples: int,
             path: Path | str = "VCF") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GT of the chosen sample columns of each VCF line (no trailing newline; latin-1 text).

    Returns alleles int16 (R, S, 2) (-1 = missing; haploid calls repeat their allele), phased bool
    (R, S) (haploid calls count as phased) and haploid bool (R, S).
    """
    R, S = len(lines), len(columns)
    alleles = np.empty((R, S, 2), dtype=np.int16)
    phased = np.empty((R, S), dtype=bool)
    haploid = np.zeros((R, S), dtype=bool)
    if R == 0:
        return alleles, phased, haploid
    # One buffer for all lines; LF-terminated, plus padding so offsets up to +3 past a field stay inside.
    buf = np.frombuffer(("\n".join(lines) + "\n\n\n\n\n").encode("latin-1"), dtype=np.uint8)
    lengths = np.fromiter((len(x) for x in lines), dtype=np.int64, count=R)
    bounds = np.concatenate([[0], np.cumsum(lengths + 1)])
    tabs = np.flatnonzero(buf == 9)
    per_line = np.diff(np.searchsorted(tabs, bounds))
    ncol = 8 + n_vcf_samples
    good = per_line == ncol
    fast = np.zeros(R, dtype=bool)
    if good.any() and S:
        T = (tabs if good.all() else tabs[np.repeat(good, per_line)]).reshape(-1, ncol)
        f = T[:, 7] + 1  # FORMAT column starts after the 8th tab: GT must come first
        gt_first = (buf[f] == ord("G")) & (buf[f + 1] == ord("T")) & (_SEP[buf[f + 2]] == 3)
        # First byte of each chosen sample's field (np.take is several times faster than fancy
        # indexing here, and the identity case - samples in VCF order - is a plain slice).
        if S == n_vcf_samples and np.array_equal(columns, np.arange(S)):
            st = T[:, 8:] + 1
        else:
            st = np.take(T, columns + 8, axis=1) + 1
        a0 = np.take(_ALLELE, np.take(buf, st))
        s1 = np.take(_SEP, np.take(buf[1:], st))
        a2 = np.take(_ALLELE, np.take(buf[2:], st))
        e3 = np.take(_SEP, np.take(buf[3:], st))
        ok0 = a0 >= -1
        dip = ok0 & ((s1 == 1) | (s1 == 2)) & (a2 >= -1) & (e3 == 3)  # "a|b" or "a/b", one digit each
        hap = ok0 & (s1 == 3)  # "a"
        ok = gt_first & (dip | hap).all(axis=1)
        rows = np.flatnonzero(good)[ok]
        fast[rows] = True
        if ok.all():
            sel = slice(None)
        else:
            sel = ok
        alleles[rows, :, 0] = a0[sel]
        alleles[rows, :, 1] = np.where(dip[sel], a2[sel], a0[sel])
        phased[rows] = s1[sel] != 2
        haploid[rows] = hap[sel]
    for r in np.flatnonzero(~fast):
        _parse_gt_slow(lines[r], columns, n_vcf_samples, alleles[r], phased[r], haploid[r], path)
    return alleles, phased, haploid


def _parse_gt_slow(line: str, columns: np.ndarray, n_vcf_samples: int, alleles: np.ndarray,
                   phased: np.ndarray, haploid: np.ndarray, path: Path | str) -> None:
    """Plain parser for one line: any allele index, GT anywhere in FORMAT, short sample fields."""
    fields = line.rstrip("\n").split("\t")
    where = f"{fields[0]}:{fields[1]}" if len(fields) > 1 else "?"
    # A record with fewer or more sample columns than the header is malformed, not "missing".
    if len(fields) != 9 + n_vcf_samples:
        raise SeqgxError(f"VCF '{path}' record {where}: {max(len(fields) - 9, 0)} sample columns but the "
                         f"header names {n_vcf_samples} samples; fix the VCF")
    fmt = fields[8].split(":")
    if "GT" not in fmt:
        raise SeqgxError(f"VCF '{path}' record {where}: FORMAT '{fields[8]}' has no GT; genotypes are "
                         f"needed (or drop the record)")
    gi = fmt.index("GT")
    for j, c in enumerate(columns.tolist()):
        parts = fields[9 + c].split(":")
        gt = parts[gi] if gi < len(parts) else "."
        gt = gt.lstrip("|/")  # VCF 4.4 phase prefix of the first allele
        al = _GT_SPLIT.split(gt)
        if len(al) > 2:
            raise SeqgxError(f"VCF '{path}' record {where}: GT {gt!r} is polyploid; only haploid and diploid "
                             f"calls are supported")
        try:
            vals = [-1 if a == "." else int(a) for a in al]
        except ValueError:
            raise SeqgxError(f"VCF '{path}' record {where}: GT {gt!r} is malformed; fix the VCF") from None
        if len(vals) == 1:
            alleles[j] = vals[0]
            phased[j] = True
            haploid[j] = True
        else:
            alleles[j] = vals
            phased[j] = "|" in gt
            haploid[j] = False
