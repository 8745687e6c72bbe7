"""The simulated cohort as two tissues (tensorQTL BEDs + covariates, tissues.csv, finemapped.tsv): files
parse, values are the planted genetic part plus a batch effect the covariates explain, the planted genes
need the covariates to be significant, the liver's silent gene is not, and today's files are unchanged."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from scipy import stats

from seqgx.cli import main
from seqgx.simulate import FILES, RIN_CENTRE, TISSUE_COVARIATES, TISSUE_KEYS, simulate_cohort

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "tests" / "data" / "cohort"
SMALL = {"n_genes": 6, "n_contigs": 2, "contig_length": 150_000, "window_length": 16_384, "n_samples": 120}
TISSUES = ("brain", "liver")


@pytest.fixture(scope="module", params=["small", "default"])
def cohort(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The written files, truth.json, and per tissue the BED, covariates and truth genetic values."""
    sizes = SMALL if request.param == "small" else {}
    paths = simulate_cohort(tmp_path_factory.mktemp(request.param) / "cohort", seed=0, **sizes)
    truth = json.loads(paths["truth"].read_text())
    out: dict = {"paths": paths, "truth": truth, "name": request.param}
    for tissue in TISSUES:
        bed = pd.read_csv(paths[f"{tissue}_expression"], sep="\t", compression="gzip")
        cov = pd.read_csv(paths[f"{tissue}_covariates"], sep="\t", index_col="ID")
        genetic = _genetic(paths["vcf"], truth, list(bed.columns[4:]))
        out[tissue] = {"bed": bed, "cov": cov, "genetic": genetic}
    return out


def _genetic(vcf_path: Path, truth: dict, samples: list[str]) -> pd.DataFrame:
    """sum(beta * alt dosage) per gene (rows) for the given samples found in the VCF (columns)."""
    with pysam.VariantFile(str(vcf_path)) as vcf:
        in_vcf = [s for s in samples if s in vcf.header.samples]
        values = {}
        for g in truth["genes"]:
            total = np.zeros(len(in_vcf))
            for c in g["causal"]:
                rec = next(r for r in vcf.fetch(c["chrom"], c["pos"] - 1, c["pos"]) if r.pos == c["pos"])
                assert (rec.ref, rec.alts[0]) == (c["ref"], c["alt"])
                gts = [rec.samples[s]["GT"] for s in in_vcf]
                assert all(None not in gt for gt in gts)  # no missing calls at causal SNVs
                total += c["beta"] * np.array([sum(a == 1 for a in gt) for gt in gts])
            values[g["gene_id"]] = total
    return pd.DataFrame(values, index=in_vcf).T


def _r_p(cohort: dict, tissue: str, gene_id: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """Pearson (R, p) of the truth genetic value vs the tissue's expression: with the covariates regressed
    out (OLS with intercept), and without."""
    genetic = cohort[tissue]["genetic"]
    samples = list(genetic.columns)
    y = cohort[tissue]["bed"].set_index("phenotype_id").loc[gene_id, samples].to_numpy(float)
    design = np.column_stack([np.ones(len(samples)), cohort[tissue]["cov"][samples].to_numpy(float).T])
    resid = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    x = genetic.loc[gene_id].to_numpy()
    with_cov = stats.pearsonr(x, resid)
    without = stats.pearsonr(x, y)
    return (float(with_cov[0]), float(with_cov[1])), (float(without[0]), float(without[1]))


def _planted(truth: dict) -> list[str]:
    return [g["gene_id"] for g in truth["genes"] if g["causal"]]


# ---------------------------------------------------------------------------------------- files

def test_files_exist_and_parse(cohort: dict) -> None:
    paths, truth = cohort["paths"], cohort["truth"]
    assert set(paths) == set(FILES) and all(p.is_file() for p in paths.values())
    assert truth["files"] == FILES  # truth.json lists every file written
    expr = pd.read_csv(paths["expression"], sep="\t", index_col="gene_id")
    genes = pd.read_csv(paths["annotation_tsv"], sep="\t").set_index("gene_id")
    brain = list(cohort["brain"]["bed"].columns[4:])
    liver = list(cohort["liver"]["bed"].columns[4:])
    assert brain == list(expr.columns)  # the brain keeps every expression sample, in the same order
    assert set(liver) < set(brain) and len(liver) == round(0.9 * len(brain))
    assert liver == [s for s in brain if s in set(liver)]
    for tissue in TISSUES:
        bed, cov = cohort[tissue]["bed"], cohort[tissue]["cov"]
        samples = list(bed.columns[4:])
        with gzip.open(paths[f"{tissue}_expression"], "rt") as fh:
            assert fh.readline() == "\t".join(["#chr", "start", "end", "phenotype_id", *samples]) + "\n"
        assert sorted(bed["phenotype_id"]) == sorted(genes.index)
        tss = genes.loc[bed["phenotype_id"]]
        assert (bed["end"].to_numpy() == tss["tss"].to_numpy()).all()
        assert (bed["start"].to_numpy() == bed["end"].to_numpy() - 1).all()
        assert (bed["#chr"].to_numpy() == tss["chrom"].to_numpy()).all()
        key = list(zip(bed["#chr"].str[3:].astype(int), bed["start"], strict=True))
        assert key == sorted(key)
        assert bed[samples].notna().all().all()
        with open(paths[f"{tissue}_covariates"]) as fh:
            assert fh.readline().split("\t")[0] == "ID"
        assert list(cov.index) == list(TISSUE_COVARIATES) and list(cov.columns) == samples
        assert set(cov.loc["batch"]) == {0, 1}
        t = truth["tissues"][tissue]
        assert t["n_samples"] == len(samples) and t["covariates"] == list(TISSUE_COVARIATES)
        assert set(t["batch_effects"]) == set(genes.index)
        assert sorted(t["expression_samples_left_out"]) == sorted(set(brain) - set(samples))


def test_tissues_sheet_and_params(cohort: dict) -> None:
    paths = cohort["paths"]
    sheet = pd.read_csv(paths["tissues"], dtype=str)
    assert sheet.to_dict("records") == [
        {"tissue": "brain", "expression": "tissues/brain.expression.bed.gz",
         "covariates": "tissues/brain.covariates.txt", "readouts": "oracle:TATA"},
        {"tissue": "liver", "expression": "tissues/liver.expression.bed.gz",
         "covariates": "tissues/liver.covariates.txt", "readouts": "oracle:TATA;0"}]
    for row in sheet.itertuples():  # paths relative to the sheet's folder
        assert (paths["tissues"].parent / row.expression).is_file()
        assert (paths["tissues"].parent / row.covariates).is_file()
    plain = paths["params"].read_text().splitlines()
    tissues = paths["params_tissues"].read_text().splitlines()
    folder = paths["params"].parent
    assert f"tissues: {folder / 'tissues.csv'}" in tissues
    assert f"finemapped: {folder / 'finemapped.tsv'}" in tissues
    assert not any(line.startswith("expression:") for line in tissues)
    same = [line for line in plain if not line.startswith(("#", "expression:", "outdir:"))]
    assert same and all(line in tissues for line in same)  # fasta, vcf, annotation, model, window_length
    assert "model: oracle" in tissues


def test_finemapped_rows_are_the_causal_snvs(cohort: dict) -> None:
    fm = pd.read_csv(cohort["paths"]["finemapped"], sep="\t", dtype={"pos": int})
    assert list(fm.columns) == ["gene_id", "chrom", "pos", "ref", "alt", "pip", "credible_set"]
    expected = [(g["gene_id"], c["chrom"], c["pos"], c["ref"], c["alt"], f"{g['gene_id']}_{k}")
                for g in cohort["truth"]["genes"] for k, c in enumerate(g["causal"], 1)]
    columns = ["gene_id", "chrom", "pos", "ref", "alt", "credible_set"]
    got = list(fm[columns].itertuples(index=False, name=None))
    assert got == expected
    assert ((fm["pip"] > 0.5) & (fm["pip"] <= 1)).all()
    opposite = next(g["gene_id"] for g in cohort["truth"]["genes"] if g["kind"] == "opposite")
    assert sorted(fm.loc[fm.gene_id == opposite, "credible_set"]) == [f"{opposite}_1", f"{opposite}_2"]


# ---------------------------------------------------------------------------------------- values

@pytest.mark.parametrize("tissue", TISSUES)
def test_values_are_the_planted_genetic_part_plus_batch_and_noise(cohort: dict, tissue: str) -> None:
    truth = cohort["truth"]
    genetic, cov = cohort[tissue]["genetic"], cohort[tissue]["cov"]
    samples = list(genetic.columns)
    bed = cohort[tissue]["bed"].set_index("phenotype_id")
    silent = truth["tissues"][tissue]["silent_gene"]
    noise_sd = truth["tissues"][tissue]["noise_sd"]
    n = len(samples)
    for g in truth["genes"]:
        e = truth["tissues"][tissue]["batch_effects"][g["gene_id"]]
        batch = e["batch"] * cov.loc["batch", samples] + e["rin"] * (cov.loc["rin", samples] - RIN_CENTRE)
        assert batch.std(ddof=0) == pytest.approx(e["sd"], rel=0.05)
        z = (bed.loc[g["gene_id"], samples] - batch - g["baseline"]).to_numpy(float)
        x = genetic.loc[g["gene_id"]].to_numpy()
        noise = z - (0 if g["gene_id"] == silent else x)
        assert abs(noise.mean()) < 5 * noise_sd / np.sqrt(n)
        assert 0.75 * noise_sd < noise.std() < 1.25 * noise_sd
        if x.std() > 0:  # the slope of z on the truth genetic value: 1, or 0 where the gene is silent
            slope = np.cov(x, z, ddof=0)[0, 1] / x.var()
            se = noise_sd / (x.std() * np.sqrt(n))
            assert abs(slope - (0 if g["gene_id"] == silent else 1)) < 5 * se, g["gene_id"]


@pytest.mark.parametrize("tissue", TISSUES)
def test_planted_genes_need_the_covariates(cohort: dict, tissue: str) -> None:
    silent = cohort["truth"]["tissues"][tissue]["silent_gene"]
    for gene_id in _planted(cohort["truth"]):
        if gene_id == silent:
            continue
        (r_cov, p_cov), (r_raw, p_raw) = _r_p(cohort, tissue, gene_id)
        assert r_cov > 0 and p_cov < 1e-3, (gene_id, r_cov, p_cov)
        assert abs(r_raw) <= 0.5 * r_cov and p_raw > 0.01, (gene_id, r_raw, p_raw)


def test_liver_silent_gene(cohort: dict) -> None:
    truth = cohort["truth"]
    silent = truth["tissues"]["silent_gene"]
    assert truth["tissues"]["liver"]["silent_gene"] == silent
    assert truth["tissues"]["brain"]["silent_gene"] is None
    assert next(g for g in truth["genes"] if g["gene_id"] == silent)["kind"] == "single"
    (r_cov, p_cov), (_, p_raw) = _r_p(cohort, "liver", silent)
    assert p_cov > 0.01 and p_raw > 0.01, (r_cov, p_cov, p_raw)
    assert _r_p(cohort, "brain", silent)[0][1] < 1e-3  # the same gene is an eQTL in the brain


# ------------------------------------------------------------------------------- today's files

def _content(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _without_tissues(truth: dict) -> dict:
    out = {k: v for k, v in truth.items() if k != "tissues"}
    out["files"] = {k: v for k, v in truth["files"].items() if k not in TISSUE_KEYS}
    return out


def test_todays_files_are_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The committed test cohort was written before the tissues existed: the recorded command (run from a
    # folder standing for the repository root, as test_test_data does) still writes its files.
    makefile = (REPO / "Makefile").read_text().replace("\\\n", " ")
    command = re.search(r"^TEST_DATA_COMMAND := (.+)$", makefile, re.M).group(1).split()
    monkeypatch.chdir(tmp_path)
    assert main([command[0], "-q", *command[1:]]) == 0
    fresh = tmp_path / "tests" / "data" / "cohort"
    tissue_names = {FILES[k].split("/")[0] for k in TISSUE_KEYS}
    for path in COMMITTED.iterdir():
        if path.name in tissue_names or path.name in (".gitattributes", "truth.json"):
            continue
        assert _content(fresh / path.name) == _content(path), path.name
    committed = json.loads((COMMITTED / "truth.json").read_text())
    assert _without_tissues(json.loads((fresh / "truth.json").read_text())) == _without_tissues(committed)
    # Without the tissues, truth.json is what it was too.
    off = simulate_cohort(tmp_path / "off", seed=0, vcf_per_contig=True, tissues=False, **SMALL)
    assert set(off) == set(FILES) - set(TISSUE_KEYS) | {"vcf_sheet"}
    assert json.loads(off["truth"].read_text()) == _without_tissues(committed)
