"""The synthetic cohort: files parse with real readers, awkward records are where truth.json says,
planted effects are recoverable, the output is deterministic, and the CLI behaves."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyfaidx
import pysam
import pytest
import statsmodels.api as sm
from cli_helpers import assert_one_line_error, run_cli
from scipy import stats

from seqgx.cli import main
from seqgx.params import load_params
from seqgx.simulate import CAUSAL_MAX_DISTANCE, FILES, SimulationSizes, simulate_cohort

DEFAULTS = SimulationSizes()


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return simulate_cohort(tmp_path_factory.mktemp("sim") / "cohort", seed=0)


@pytest.fixture(scope="module")
def truth(sim: dict[str, Path]) -> dict:
    return json.loads(sim["truth"].read_text())


@pytest.fixture(scope="module")
def expression(sim: dict[str, Path]) -> pd.DataFrame:
    return pd.read_csv(sim["expression"], sep="\t", index_col="gene_id")


def _gtf_genes(path: Path) -> pd.DataFrame:
    columns = ["chrom", "source", "feature", "start", "end", "score", "strand", "frame", "attributes"]
    gtf = pd.read_csv(path, sep="\t", comment="#", header=None, names=columns)
    genes = gtf[gtf.feature == "gene"].copy()
    for key in ("gene_id", "gene_name", "gene_type"):
        genes[key] = genes["attributes"].str.extract(rf'{key} "([^"]+)"', expand=False)
    return genes


def _record(vcf: pysam.VariantFile, chrom: str, pos: int) -> pysam.VariantRecord:
    recs = [r for r in vcf.fetch(chrom, pos - 1, pos) if r.pos == pos]
    assert len(recs) == 1, f"{chrom}:{pos}"
    return recs[0]


def _alt_dosage(rec: pysam.VariantRecord, samples: list[str], alt_index: int = 1) -> np.ndarray:
    """Alt dosage per sample; NaN where the call is missing."""
    out = np.empty(len(samples))
    for i, s in enumerate(samples):
        gt = rec.samples[s]["GT"]
        out[i] = np.nan if None in gt else sum(a == alt_index for a in gt)
    return out


# ---------------------------------------------------------------------------------------- parsing

def test_files_parse_with_real_readers(sim: dict[str, Path], truth: dict) -> None:
    assert set(sim) == set(FILES) and all(p.is_file() for p in sim.values())
    fa = pyfaidx.Fasta(str(sim["fasta"]), rebuild=False, build_index=False)
    assert list(fa.keys()) == ["chr1", "chr2"]
    for name in fa.keys():
        assert len(fa[name]) == DEFAULTS.contig_length > DEFAULTS.window_length + 2 * 5000
    # The .fai matches pysam's own reading of the FASTA.
    with pysam.FastaFile(str(sim["fasta"])) as pf:
        assert pf.fetch("chr2", 123_456, 123_520) == fa["chr2"][123_456:123_520].seq
    vcf = pysam.VariantFile(str(sim["vcf"]))
    assert vcf.header.version == "VCFv4.2"
    assert list(vcf.header.contigs) == ["chr1", "chr2"]
    assert "GT" in vcf.header.formats
    n_all = sum(1 for _ in vcf.fetch())
    n_by_region = sum(1 for c in ("chr1", "chr2") for _ in vcf.fetch(c))
    assert n_all == n_by_region == truth["n_variant_records"]
    assert len(list(vcf.header.samples)) == DEFAULTS.n_samples >= 200
    for key in ("bad_vcf", "unphased_vcf"):
        other = pysam.VariantFile(str(sim[key]))
        assert list(other.header.samples) == list(vcf.header.samples)
        n_other = sum(1 for _ in other.fetch("chr1", 0, 500_000))
        assert n_other == sum(1 for _ in vcf.fetch("chr1", 0, 500_000))
    expr = pd.read_csv(sim["expression"], sep="\t")
    assert expr.columns[0] == "gene_id" and len(expr) == DEFAULTS.n_genes
    assert np.isfinite(expr.iloc[:, 1:].to_numpy()).all()
    tsv = pd.read_csv(sim["annotation_tsv"], sep="\t")
    assert list(tsv.columns) == ["gene_id", "gene_name", "chrom", "tss", "strand"]
    assert set(expr.gene_id) == set(tsv.gene_id)
    params = load_params(sim["params"])
    for key in ("fasta", "vcf", "annotation", "expression"):
        assert Path(params[key]).is_file()
    assert Path(params["annotation"]) == sim["gtf"].resolve() and params["outdir"] == "results"


def test_gtf_and_tsv_agree_on_tss(sim: dict[str, Path]) -> None:
    genes = _gtf_genes(sim["gtf"])
    tsv = pd.read_csv(sim["annotation_tsv"], sep="\t").set_index("gene_id")
    assert len(genes) == len(tsv) >= 8
    assert set(genes.strand) == {"+", "-"}
    assert genes.gene_id.str.fullmatch(r"ENSGSIM\d{11}\.\d+").all()
    assert genes.gene_name.str.fullmatch(r"SIMG\d+").all()
    assert genes.gene_type.notna().all()
    for g in genes.itertuples():
        expected_tss = g.start if g.strand == "+" else g.end  # TSS = gene start on +, gene end on -
        assert tsv.loc[g.gene_id, "tss"] == expected_tss
        assert tsv.loc[g.gene_id, "strand"] == g.strand and tsv.loc[g.gene_id, "chrom"] == g.chrom
    gtf = pd.read_csv(sim["gtf"], sep="\t", comment="#", header=None)
    assert {"gene", "transcript", "exon"} <= set(gtf[2])


def test_gene_windows_layout(sim: dict[str, Path], truth: dict) -> None:
    half = DEFAULTS.window_length // 2
    genes = truth["genes"]
    past_end = [g for g in genes if g["window_past_contig_end"]]
    assert len(past_end) == 1
    g = past_end[0]
    assert DEFAULTS.contig_length - g["tss"] < 50_000
    assert g["tss"] - 1 - half + DEFAULTS.window_length > DEFAULTS.contig_length
    for g in genes:
        assert g["window_start"] == g["tss"] - 1 - half
        others = [h for h in genes if h["chrom"] == g["chrom"] and h is not g]
        for h in others:  # windows overlap little: at most a fifth of a window
            overlap = DEFAULTS.window_length - abs(g["tss"] - h["tss"])
            assert overlap < DEFAULTS.window_length / 5
    vcf = pysam.VariantFile(str(sim["vcf"]))
    for g in genes:  # realistic-ish but small density: a few hundred records per window
        start = max(0, g["window_start"])
        n = sum(1 for _ in vcf.fetch(g["chrom"], start, g["window_start"] + g["window_length"]))
        assert n == g["n_variant_records_in_window"]
        assert 100 <= n <= 600


def test_sample_sets_overlap_as_designed(sim: dict[str, Path], truth: dict, expression: pd.DataFrame) -> None:
    vcf_samples = set(pysam.VariantFile(str(sim["vcf"])).header.samples)
    expr_samples = set(expression.columns)
    assert len(vcf_samples) == DEFAULTS.n_samples
    assert len(expr_samples) == DEFAULTS.n_samples - DEFAULTS.n_vcf_only + DEFAULTS.n_expression_only
    n_both = len(vcf_samples & expr_samples)
    assert n_both == DEFAULTS.n_samples - DEFAULTS.n_vcf_only == truth["samples"]["n_both"]
    assert sorted(vcf_samples - expr_samples) == truth["samples"]["vcf_only"]
    assert sorted(expr_samples - vcf_samples) == truth["samples"]["expression_only"]
    # Expression columns are not in VCF order, so consumers must align by name.
    both_in_expr_order = [s for s in expression.columns if s in vcf_samples]
    assert both_in_expr_order != sorted(both_in_expr_order)


def test_allele_frequency_spectrum_is_cohort_like(sim: dict[str, Path]) -> None:
    mac, an = [], []
    for rec in pysam.VariantFile(str(sim["vcf"])):
        ac = sum(rec.info["AC"])
        mac.append(min(ac, rec.info["AN"] - ac))
        an.append(rec.info["AN"])
    mac, an = np.array(mac), np.array(an)
    maf = mac / an
    assert (mac == 1).mean() > 0.15  # many singletons
    assert (maf < 0.01).mean() > 0.4  # most sites are rare
    assert (maf >= 0.05).mean() > 0.15  # and a good share are common


def test_common_variants_are_in_ld_blocks(sim: dict[str, Path], truth: dict) -> None:
    """Nearby common SNVs are correlated far more than distant ones (founder-haplotype blocks)."""
    vcf = pysam.VariantFile(str(sim["vcf"]))
    samples = list(vcf.header.samples)
    g = truth["genes"][1]
    doses, positions = [], []
    for rec in vcf.fetch(g["chrom"], g["tss"] - 30_000, g["tss"] + 30_000):
        if len(rec.alts) == 1 and len(rec.ref) == len(rec.alts[0]) == 1 and 0.1 < rec.info["AF"][0] < 0.9:
            d = _alt_dosage(rec, samples)
            if not np.isnan(d).any():
                doses.append(d)
                positions.append(rec.pos)
    r2 = np.corrcoef(np.array(doses)) ** 2
    dist = np.abs(np.subtract.outer(positions, positions))
    near = r2[(dist > 0) & (dist < 2000)]
    far = np.corrcoef(doses[0], _far_common_dosage(vcf, samples, g))[0, 1] ** 2
    assert near.size > 0 and np.median(near) > 0.1 and (near > 0.8).any()
    assert far < 0.1


def _far_common_dosage(vcf: pysam.VariantFile, samples: list[str], g: dict) -> np.ndarray:
    other = "chr2" if g["chrom"] == "chr1" else "chr1"
    for rec in vcf.fetch(other, 400_000, 600_000):
        if len(rec.alts) == 1 and len(rec.ref) == len(rec.alts[0]) == 1 and 0.2 < rec.info["AF"][0] < 0.8:
            d = _alt_dosage(rec, samples)
            if not np.isnan(d).any():
                return d
    raise AssertionError("no common SNV on the other contig")


# -------------------------------------------------------------------------------- awkward records

def test_awkward_records_in_main_vcf(sim: dict[str, Path], truth: dict) -> None:
    awk = truth["awkward"]
    vcf = pysam.VariantFile(str(sim["vcf"]))
    assert len(awk["multiallelic"]) >= 1
    for m in awk["multiallelic"]:
        rec = _record(vcf, m["chrom"], m["pos"])
        assert len(rec.alts) == 2 and all(len(a) == 1 for a in rec.alts) and len(rec.ref) == 1
        called = [a for s in rec.samples.values() for a in s["GT"]]
        assert 1 in called and 2 in called
    kinds = set()
    for ind in awk["indels"]:
        rec = _record(vcf, ind["chrom"], ind["pos"])
        assert len(rec.ref) != len(rec.alts[0])
        kinds.add("del" if len(rec.ref) > len(rec.alts[0]) else "ins")
    assert kinds == {"del", "ins"}
    sv = awk["symbolic"][0]
    rec = _record(vcf, sv["chrom"], sv["pos"])
    assert rec.alts == ("<DEL>",) and rec.stop == sv["end"]
    n_dot_slash = 0
    for m in awk["missing"]:
        rec = _record(vcf, m["chrom"], m["pos"])
        missing = [s for s in rec.samples if rec.samples[s]["GT"] == (None, None)]
        assert missing == m["samples"]
        n_dot_slash += sum(not rec.samples[s].phased for s in missing)
    assert n_dot_slash == 1  # exactly one './.', the others '.|.'
    # Default personalize policies run on the main VCF: no unphased call other than that './.'.
    with gzip.open(sim["vcf"], "rt") as fh:
        body = "".join(line for line in fh if not line.startswith("#"))
    assert body.count("/") == 1 and body.count("./.") == 1


def test_unphased_genotype_only_in_its_file(sim: dict[str, Path], truth: dict) -> None:
    u = truth["awkward"]["unphased"]
    assert u["file"] == sim["unphased_vcf"].name
    main_rec = _record(pysam.VariantFile(str(sim["vcf"])), u["chrom"], u["pos"])
    rec = _record(pysam.VariantFile(str(sim["unphased_vcf"])), u["chrom"], u["pos"])
    call = rec.samples[u["sample"]]
    assert not call.phased and sorted(call["GT"]) == [0, 1]
    assert main_rec.samples[u["sample"]].phased and main_rec.samples[u["sample"]]["GT"] == call["GT"]
    unphased_hets = [(r.pos, s) for r in pysam.VariantFile(str(sim["unphased_vcf"]))
                     for s, c in r.samples.items() if not c.phased and None not in c["GT"]]
    assert unphased_hets == [(u["pos"], u["sample"])]


def test_ref_mismatch_only_in_bad_vcf(sim: dict[str, Path], truth: dict) -> None:
    fa = pyfaidx.Fasta(str(sim["fasta"]), rebuild=False, build_index=False, sequence_always_upper=True)

    def mismatches(path: Path) -> list[tuple[str, int]]:
        out = []
        for rec in pysam.VariantFile(str(path)):
            if fa[rec.chrom][rec.pos - 1:rec.pos - 1 + len(rec.ref)].seq != rec.ref:
                out.append((rec.chrom, rec.pos))
        return out

    bad = truth["awkward"]["ref_mismatch"]
    assert bad["file"] == sim["bad_vcf"].name
    assert mismatches(sim["vcf"]) == [] and mismatches(sim["unphased_vcf"]) == []
    assert mismatches(sim["bad_vcf"]) == [(bad["chrom"], bad["pos"])]
    assert fa[bad["chrom"]][bad["pos"] - 1].seq == bad["fasta_ref"] != bad["vcf_ref"]


# ------------------------------------------------------------------------------------ reference

def test_reference_composition_is_genome_like(sim: dict[str, Path]) -> None:
    fa = pyfaidx.Fasta(str(sim["fasta"]), rebuild=False, build_index=False)
    for name in fa.keys():
        seq = fa[name][:].seq
        upper = seq.upper()
        acgt = sum(upper.count(b) for b in "ACGT")
        # Isochore-like GC variation: 20-kb windows span a wide GC range (iid sequence at one GC
        # level would give a range of ~0.02 at this window size: SD sqrt(0.25/20000) = 0.0035).
        gc = [(w.count("G") + w.count("C")) / max(1, 20_000 - w.count("N"))
              for w in (upper[i:i + 20_000] for i in range(0, len(upper) - 19_999, 20_000))]
        assert max(gc) - min(gc) > 0.08
        # CpG depletion: observed/expected CpG well below 1 (human genome ~0.2-0.25).
        cpg_oe = upper.count("CG") * acgt / (upper.count("C") * upper.count("G"))
        assert cpg_oe < 0.45
        lower = sum(seq.count(b) for b in "acgt") / len(seq)
        assert 0.05 < lower < 0.6  # soft-masked repeats
    assert "N" * 1000 == fa["chr2"][:1000].seq.upper()


def test_cpg_islands_at_protein_coding_tss(sim: dict[str, Path], truth: dict) -> None:
    fa = pyfaidx.Fasta(str(sim["fasta"]), rebuild=False, build_index=False, sequence_always_upper=True)
    coding = [g for g in truth["genes"] if g["gene_type"] == "protein_coding"]
    assert coding
    for g in coding:
        island = fa[g["chrom"]][g["tss"] - 400:g["tss"] + 400].seq
        assert island.count("CG") * len(island) / (island.count("C") * island.count("G")) > 0.6


def test_repeats_are_present_and_soft_masked(sim: dict[str, Path]) -> None:
    fa = pyfaidx.Fasta(str(sim["fasta"]), rebuild=False, build_index=False)
    bed = pd.read_csv(sim["repeats"], sep="\t", header=None,
                      names=["chrom", "start", "end", "name", "score", "strand"])
    assert (bed.groupby("chrom").size() > 50).all()
    for r in bed.itertuples():
        assert fa[r.chrom][r.start:r.end].seq.islower()
    # Tandem repeats: the sequence matches itself shifted by the motif length.
    micro = bed[bed.name.str.fullmatch(r"\([ACGT]+\)n")]
    assert len(micro) > 100
    for r in micro.head(50).itertuples():
        s = fa[r.chrom][r.start:r.end].seq
        period = len(r.name) - 3
        assert np.mean([s[i] == s[i + period] for i in range(len(s) - period)]) > 0.8
    # Interspersed copies: two full-length SINE copies on the same strand are far more alike than chance.
    alu = bed[(bed.name == "SimAlu") & (bed.strand == "+") & (bed.end - bed.start >= 282 + 8)]
    a, b = (fa[r.chrom][r.start:r.start + 250].seq for r in alu.head(2).itertuples())
    assert len(alu) >= 2 and np.mean([x == y for x, y in zip(a, b, strict=True)]) > 0.65
    assert bed.name.str.startswith("VNTR").any() and (bed.name == "SimL1").any()


# ------------------------------------------------------------------------------- planted effects

def test_planted_effects_are_recoverable(sim: dict[str, Path], truth: dict, expression: pd.DataFrame) -> None:
    vcf = pysam.VariantFile(str(sim["vcf"]))
    both = [s for s in vcf.header.samples if s in expression.columns]
    kinds = [g["kind"] for g in truth["genes"]]
    assert kinds.count("none") == 1 and kinds.count("opposite") == 1
    signs = set()
    for g in truth["genes"]:
        if not g["causal"]:
            continue
        y = expression.loc[g["gene_id"], both].to_numpy()
        doses, betas = [], []
        for c in g["causal"]:
            assert c["variant_id"] == f"{c['chrom']}:{c['pos']}:{c['ref']}:{c['alt']}"
            assert abs(c["pos"] - g["tss"]) <= CAUSAL_MAX_DISTANCE
            rec = _record(vcf, c["chrom"], c["pos"])
            assert rec.ref == c["ref"] and rec.alts == (c["alt"],)  # biallelic SNV
            d = _alt_dosage(rec, both)
            assert not np.isnan(d).any()  # no missing calls: the dosage is exact
            assert 0.05 < d.mean() / 2 < 0.95
            r = stats.pearsonr(d, y)[0]
            assert np.sign(r) == c["sign"] == np.sign(c["beta"]), (g["gene_name"], c["variant_id"], r)
            doses.append(d)
            betas.append(c["beta"])
            signs.add(c["sign"])
        # The perfect predictor's R, recomputed from the files alone.
        genetic = np.array(doses).T @ np.array(betas)
        assert np.corrcoef(genetic, y)[0, 1] == pytest.approx(g["perfect_r"], abs=1e-6)
        # OLS on the causal dosages recovers the planted betas and the noise SD.
        fit = sm.OLS(y, sm.add_constant(np.array(doses).T)).fit()
        assert np.all(np.abs(fit.params[1:] - betas) < 4.5 * fit.bse[1:]), (g["gene_name"], fit.params, betas)
        assert math.sqrt(fit.scale) == pytest.approx(truth["noise_sd"], rel=0.15)
    assert signs == {1, -1}
    opposite = next(g for g in truth["genes"] if g["kind"] == "opposite")
    assert sorted(c["sign"] for c in opposite["causal"]) == [-1, 1]


def test_causal_snvs_make_or_break_tata_in_oracle_readout(sim: dict[str, Path], truth: dict,
                                                          expression: pd.DataFrame) -> None:
    """Each causal alt allele changes the TATA count of the oracle readout (bins 447-449) by exactly
    oracle_delta (string check on the FASTA); the oracle's direction matches expression except on the
    unsupported genes, where R is significantly negative."""
    fa = pyfaidx.Fasta(str(sim["fasta"]), rebuild=False, build_index=False, sequence_always_upper=True)
    vcf = pysam.VariantFile(str(sim["vcf"]))
    both = [s for s in vcf.header.samples if s in expression.columns]
    crop = (DEFAULTS.window_length // 128 - 896) // 2  # output bins cropped on each side
    lo_index, hi_index = (crop + 447) * 128, (crop + 450) * 128  # window indices of bins 447-449
    assert (lo_index, hi_index) == (98_176, 98_560)
    expected_signs = []
    for g in truth["genes"]:
        if not g["causal"]:
            assert g["expected_sign_oracle_tata"] is None and g["oracle_supported"] is None
            continue
        chrom = g["chrom"]
        first = g["window_start"] + 1 + lo_index  # 1-based genome position of the readout's first base
        last = g["window_start"] + hi_index  # ... and of its last base
        # Motif starts in [first, last]; the sequence runs 3 bases on so a motif at `last` is whole.
        region = fa[chrom][first - 1:last + 3].seq
        prediction = np.zeros(len(both))
        for c in g["causal"]:
            assert first + 10 <= c["pos"] <= last - 10, (g["gene_name"], c["pos"])
            assert region[c["pos"] - first] == c["ref"] and c["alt"] in "ACGT" and c["alt"] != c["ref"]
            alt_region = region[:c["pos"] - first] + c["alt"] + region[c["pos"] - first + 1:]
            n_ref = sum(region.startswith("TATA", i) for i in range(last - first + 1))
            n_alt = sum(alt_region.startswith("TATA", i) for i in range(last - first + 1))
            assert c["oracle_delta"] in (1, -1) and n_alt - n_ref == c["oracle_delta"], (g["gene_name"], c)
            assert c["motif"] == "TATA" and c["motif_start"] <= c["pos"] < c["motif_start"] + 4
            footprint = fa[chrom][c["motif_start"] - 1:c["motif_start"] + 3].seq
            assert (footprint == "TATA") == (c["oracle_delta"] == -1)
            # No other record (SNV, indel reaching in, <DEL>) touches the motif or the bases around it.
            recs = list(vcf.fetch(chrom, c["motif_start"] - 13, c["motif_start"] + 15))
            assert [r.pos for r in recs] == [c["pos"]], (g["gene_name"], [r.pos for r in recs])
            assert c["oracle_supported"] == (np.sign(c["beta"]) == c["oracle_delta"])
            prediction += c["oracle_delta"] * _alt_dosage(_record(vcf, chrom, c["pos"]), both)
        # The oracle's prediction from the causal SNVs, correlated with observed expression.
        r, p = stats.pearsonr(prediction, expression.loc[g["gene_id"], both].to_numpy())
        assert p < 1e-3 and np.sign(r) == g["expected_sign_oracle_tata"], (g["gene_name"], r, p)
        assert all(c["oracle_supported"] == g["oracle_supported"] for c in g["causal"])
        expected_signs.append(g["expected_sign_oracle_tata"])
    assert expected_signs.count(-1) == 2 and expected_signs.count(1) == len(expected_signs) - 2
    opposite = next(g for g in truth["genes"] if g["kind"] == "opposite")
    assert sorted(c["oracle_delta"] for c in opposite["causal"]) == [-1, 1]


def test_no_effect_gene_shows_no_association(sim: dict[str, Path], truth: dict,
                                             expression: pd.DataFrame) -> None:
    g = next(g for g in truth["genes"] if g["kind"] == "none")
    assert g["causal"] == [] and g["perfect_r"] is None
    vcf = pysam.VariantFile(str(sim["vcf"]))
    both = [s for s in vcf.header.samples if s in expression.columns]
    y = expression.loc[g["gene_id"], both].to_numpy()
    rs, ns = [], []
    for rec in vcf.fetch(g["chrom"], max(0, g["window_start"]), g["window_start"] + g["window_length"]):
        if len(rec.alts) != 1 or len(rec.ref) != 1 or len(rec.alts[0]) != 1:
            continue
        d = _alt_dosage(rec, both)
        ok = ~np.isnan(d)
        maf = min(d[ok].mean() / 2, 1 - d[ok].mean() / 2)
        # Fisher's z is close to normal only when the dosage is not dominated by a handful of carriers.
        if maf < 0.05:
            continue
        rs.append(stats.pearsonr(d[ok], y[ok])[0])
        ns.append(int(ok.sum()))
    m = len(rs)
    assert m >= 20
    # Under no effect, atanh(r) ~ N(0, 1/(n-3)). Bonferroni over the m SNVs at a family-wise 1% level:
    # |r| < tanh(z_{1 - 0.01/(2m)} / sqrt(n - 3)) for every SNV. The data are fixed by the seed, so this
    # cannot flake; a real association (like the planted ones, |r| ~ 0.3-0.8) would break it.
    z = stats.norm.ppf(1 - 0.01 / (2 * m))
    bounds = np.tanh(z / np.sqrt(np.array(ns) - 3))
    assert np.all(np.abs(rs) < bounds), max(np.abs(rs))


# ---------------------------------------------------------------------------- determinism and CLI

def test_same_seed_identical_bytes(sim: dict[str, Path], tmp_path: Path) -> None:
    again = simulate_cohort(tmp_path / "again", seed=0)
    for key, path in sim.items():
        if key in ("params", "params_tissues"):  # (absolute) paths to the files: equal up to the folder
            assert again[key].read_text().replace(str(again[key].parent), "DIR") == path.read_text().replace(
                str(path.parent), "DIR")
            continue
        assert again[key].read_bytes() == path.read_bytes(), key


def test_params_paths_relative_to_the_launch_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Below the folder simulate runs in, params.yaml names files relative to it (seqgx run and nextflow
    resolve against the launch folder); elsewhere, absolute paths."""
    monkeypatch.chdir(tmp_path)
    paths = simulate_cohort("data/cohort", seed=0, n_genes=4, n_contigs=2, contig_length=150_000,
                            window_length=16_384, n_samples=40)
    text = paths["params"].read_text()
    assert "\nfasta: data/cohort/reference.fa\n" in text
    assert "\nexpression: data/cohort/expression.tsv\n" in text
    assert load_params(paths["params"], check_files=True)["fasta"] == str(tmp_path.resolve() / "data" /
                                                                          "cohort" / "reference.fa")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    outside = simulate_cohort(tmp_path / "other", seed=0, n_genes=4, n_contigs=2, contig_length=150_000,
                              window_length=16_384, n_samples=40)
    assert f"\nfasta: {(tmp_path / 'other' / 'reference.fa').resolve()}\n" in outside["params"].read_text()


def test_cli_runs_and_other_seed_differs(sim: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "seed1"
    proc = run_cli("simulate", "--out", out, "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out / "params.yaml")
    for key in ("vcf", "fasta", "expression", "truth"):
        assert (out / FILES[key]).read_bytes() != sim[key].read_bytes(), key
    assert pysam.VariantFile(str(out / FILES["vcf"])).header.samples[0] == "SIM0001"
    # A second run into the now non-empty directory refuses, unless --overwrite.
    assert_one_line_error(run_cli("simulate", "--out", out, "--seed", "1"), "not empty", "--overwrite")


def test_cli_bad_option_values(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert_one_line_error(run_cli("simulate", "--out", tmp_path / "x", "--n-samples", "ten"), "--n-samples")
    assert not (tmp_path / "x").exists()
    # The remaining checks run in-process (a subprocess start costs seconds on a loaded machine).
    for argv, fragment in ((["--n-samples", "5"], ">= 30"),
                           (["--contig-length", "100000"], "--contig-length"),
                           (["--n-genes", "40", "--contig-length", "300000"], "closer than 30 kb"),
                           (["--window-length", "20000"], "--window-length"),
                           (["--seed", "-3"], "--seed")):
        assert main(["simulate", "--out", str(tmp_path / "y"), *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and fragment in err[0], err
    assert not (tmp_path / "y").exists()


def test_sizes_are_configurable(tmp_path: Path) -> None:
    paths = simulate_cohort(tmp_path / "small", seed=3, n_samples=40, n_genes=4, n_contigs=3,
                            contig_length=300_000, window_length=32_768, variant_density=3.0,
                            n_expression_only=2, n_vcf_only=3)
    t = json.loads(paths["truth"].read_text())
    assert list(t["contigs"]) == ["chr1", "chr2", "chr3"]
    assert len(pysam.VariantFile(str(paths["vcf"])).header.samples) == 40
    assert pd.read_csv(paths["expression"], sep="\t").shape == (4, 1 + 40 - 3 + 2)
    assert load_params(paths["params"])["window_length"] == 32_768
    with pytest.raises(TypeError):
        simulate_cohort(tmp_path / "bad", n_sample=10)
