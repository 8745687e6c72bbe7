"""Cohort inputs of issue 15: expression as a tensorQTL BED, covariates, the tissues samplesheet.

Expected values are written by hand next to each small input file.
"""

from __future__ import annotations

import gzip
import json
import logging
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqgx.analysis.covariates import covariates_summary, read_covariates
from seqgx.checks import cross_check_tss, expression_tss, read_expression
from seqgx.errors import SeqgxError
from seqgx.tissues import (
    DEFAULT_TISSUE,
    ReadoutSpec,
    default_tissue,
    read_tissues,
    resolve_readouts,
    tissues_schema,
)

# ---------------------------------------------------------------- expression BED

TSV = ("phenotype_id\tS1\tS2\tS3\n"
       "ENSG1.2\t1.5\tNA\t-0.25\n"
       "ENSG2\t-0.5\t2\t0\n"
       "ENSG3\t3\t4\t5\n")
BED = ("#chr\tstart\tend\tphenotype_id\tS1\tS2\tS3\n"
       "chr1\t99\t100\tENSG1.2\t1.5\tNA\t-0.25\n"
       "chr2\t199\t200\tENSG2\t-0.5\t2\t0\n"
       "chr3\t299\t300\tENSG3\t3\t4\t5\n")
EXPECTED = pd.DataFrame({"S1": [1.5, -0.5, 3.0], "S2": [np.nan, 2.0, 4.0], "S3": [-0.25, 0.0, 5.0]},
                        index=pd.Index(["ENSG1.2", "ENSG2", "ENSG3"], name="phenotype_id"))


def _write(path: Path, text: str) -> Path:
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["e.bed", "e.bed.gz"])
def test_bed_reads_as_the_same_frame_as_the_tsv(tmp_path: Path, name: str) -> None:
    tsv = read_expression(_write(tmp_path / "e.tsv", TSV))
    bed = read_expression(_write(tmp_path / name, BED))
    pd.testing.assert_frame_equal(bed, tsv)
    pd.testing.assert_frame_equal(bed, EXPECTED, check_index_type=False, check_column_type=False)


def test_bgzip_bed_and_gtex_header(tmp_path: Path) -> None:
    import pysam

    # GTEx spells the header 'chr ... gene_id' (no '#'); bgzip is a series of gzip members.
    plain = _write(tmp_path / "g.bed", BED.replace("#chr", "chr").replace("phenotype_id", "gene_id"))
    pysam.tabix_compress(str(plain), str(tmp_path / "g.bed.gz"))
    got = read_expression(tmp_path / "g.bed.gz")
    pd.testing.assert_frame_equal(got, EXPECTED.rename_axis("gene_id"), check_index_type=False,
                                  check_column_type=False)


@pytest.mark.parametrize("text, words", [
    (BED.replace("\tS3\n", "\tS1\n", 1), ["sample 'S1' more than once"]),
    (BED.replace("ENSG2", "ENSG3"), ["gene 'ENSG3' more than once"]),
    (BED.replace("\t4\t", "\tfour\t"), ["non-numeric", "'S2'"]),
    (BED.replace("phenotype_id", "name"), ["line 1", "#chr", "phenotype_id"]),
    (BED.replace("199", "1x9"), ["line 3", "'start'", "1x9"]),
    (BED.split("\n")[0] + "\n", ["no genes or no samples"]),
    ("", ["line 1", "found 'nothing'"]),
])
def test_bad_bed_is_one_line_error(tmp_path: Path, text: str, words: list[str]) -> None:
    path = _write(tmp_path / "bad.bed.gz", text)
    with pytest.raises(SeqgxError) as exc:
        read_expression(path)
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg
    for w in words:
        assert w in msg


def test_expression_tss_and_cross_check(tmp_path: Path) -> None:
    bed = _write(tmp_path / "e.bed", BED + "chr4\t399\t400\tENSG4\t1\t1\t1\n")
    tss = expression_tss(bed)
    assert tss is not None
    assert list(tss["gene_id"]) == ["ENSG1.2", "ENSG2", "ENSG3", "ENSG4"]
    assert list(tss["chrom"]) == ["chr1", "chr2", "chr3", "chr4"]
    assert list(tss["tss"]) == [100, 200, 300, 400]  # 1-based TSS = BED end
    assert expression_tss(_write(tmp_path / "e.tsv", TSV)) is None

    # ENSG1: 1 bp apart, versions and 'chr' differ -> agrees; ENSG2: 2 bp apart -> disagrees;
    # ENSG3: another chromosome -> disagrees; ENSG4: not annotated -> not compared.
    annotation = pd.DataFrame({"gene_id": ["ENSG1", "ENSG2.7", "ENSG3"], "chrom": ["1", "chr2", "X"],
                               "tss": [101, 202, 300]})
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("seqgx.checks")
    logger.addHandler(handler)
    try:
        assert cross_check_tss(tss, annotation, bed) == 2
    finally:
        logger.removeHandler(handler)
    warnings = [r for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    msg = warnings[0].getMessage()
    assert "2 of 3 genes" in msg and "ENSG2" in msg and str(bed) in msg
    assert cross_check_tss(tss.iloc[:1], annotation, bed) == 0


# ---------------------------------------------------------------- covariates

SAMPLES = ["S1", "S2", "S3", "S4", "S5", "S6"]
PC1 = [0.1, -0.2, 0.3, 0.0, -0.1, 0.5]
AGE = [30, 41, 52, 28, 65, 47]


def _cov_text(rows: dict[str, list], samples: list[str] = SAMPLES, as_rows: bool = False) -> str:
    if as_rows:  # one row per sample
        lines = ["sample\t" + "\t".join(rows)]
        lines += [s + "\t" + "\t".join(str(v[i]) for v in rows.values()) for i, s in enumerate(samples)]
    else:  # tensorQTL: one row per covariate
        lines = ["ID\t" + "\t".join(samples)] + [k + "\t" + "\t".join(map(str, v)) for k, v in rows.items()]
    return "\n".join(lines) + "\n"


def test_covariates_both_layouts_align_to_samples(tmp_path: Path) -> None:
    rows = {"PC1": PC1, "age": AGE}
    wanted = ["S6", "S9", "S1", "S2", "S3", "S4", "S5"]  # S9: no covariates
    a = read_covariates(_write(tmp_path / "c.txt", _cov_text(rows)), wanted)
    b = read_covariates(_write(tmp_path / "c_rows.txt.gz", _cov_text(rows, as_rows=True)), wanted)
    expected = np.array([[0.5, 47], [np.nan, np.nan], [0.1, 30], [-0.2, 41], [0.3, 52], [0.0, 28],
                         [-0.1, 65]])
    for c in (a, b):
        assert c.names == ["PC1", "age"]
        assert c.values.dtype == np.float64
        np.testing.assert_array_equal(c.values, expected)
        assert c.n_missing == 1
    assert covariates_summary(a) == {"names": ["PC1", "age"], "k": 2, "n_missing": 1}


@pytest.mark.parametrize("rows, words", [
    ({"PC1": PC1[:3] + ["NA"] + PC1[4:], "age": AGE}, ["covariate 'PC1' is NA for sample 'S4'", "impute"]),
    ({"PC1": PC1, "age": AGE[:2] + [""] + AGE[3:]}, ["covariate 'age' is NA for sample 'S3'"]),
    ({"PC1": PC1, "sex": ["M", "F", "F", "M", "F", "M"]},
     ["covariate 'sex'", "'M'", "sample 'S1'", "encode", "numbers"]),
    ({"PC1": PC1, "batch": [2] * 6}, ["covariate 'batch' is constant", "drop it"]),
    ({"PC1": PC1, "age": AGE, "PC2": AGE[::-1], "PC3": PC1[::-1]}, ["4 covariates", "6 samples",
                                                                   "at most 3"]),
    # PC3 = PC1 + 2 * age: rank of [1, PC1, age, PC3] is 3.
    ({"PC1": PC1, "age": AGE, "PC3": [p + 2 * a for p, a in zip(PC1, AGE, strict=True)]},
     ["collinear", "rank of [1, covariates] is 3, not 4", "'PC3'"]),
    # An affine copy of a covariate is collinear with it and the intercept.
    ({"age": AGE, "age_months": [12 * a + 6 for a in AGE]}, ["rank of [1, covariates] is 2, not 3",
                                                             "'age_months'"]),
    ({"PC1": PC1, "PC1 ": AGE}, ["covariate 'PC1' more than once"]),
])
def test_bad_covariates_are_one_line_errors(tmp_path: Path, rows: dict, words: list[str]) -> None:
    path = _write(tmp_path / "c.txt", _cov_text(rows))
    with pytest.raises(SeqgxError) as exc:
        read_covariates(path, SAMPLES)
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg
    for w in words:
        assert w in msg, msg


def test_covariates_checks_only_shared_samples_and_ids(tmp_path: Path) -> None:
    # S7 is not in the expression: its NA and text are not checked.
    text = _cov_text({"PC1": PC1 + ["NA"], "age": AGE + ["old"]}, SAMPLES + ["S7"])
    c = read_covariates(_write(tmp_path / "c.txt", text), SAMPLES)
    assert c.n_missing == 0 and c.values.shape == (6, 2)
    with pytest.raises(SeqgxError, match="columns or first column must be the expression's sample ids"):
        read_covariates(tmp_path / "c.txt", ["A", "B"])
    dup = _write(tmp_path / "d.txt", _cov_text({"PC1": PC1, "age": AGE}, SAMPLES[:5] + ["S1"]))
    with pytest.raises(SeqgxError, match="sample 'S1' more than once"):
        read_covariates(dup, SAMPLES)


# ---------------------------------------------------------------- tissues samplesheet

TRACKS = ["DNASE:a", "CAGE:brain; adult;", "CAGE:liver", "CAGE:brain;"]


def _sheet(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "sheet"
    (folder / "expr").mkdir(parents=True, exist_ok=True)
    for name in ("liver.tsv", "brain.bed.gz"):
        (folder / "expr" / name).write_text("x")
    (folder / "cov.txt").write_text("x")
    (folder / "w").mkdir(exist_ok=True)
    (folder / "w" / "liver_w.csv").write_text("tracks,weights\n")
    return _write(folder / "tissues.csv", "tissue,expression,covariates,readouts\n" + body)


def test_tissue_sheet_happy_path(tmp_path: Path) -> None:
    absolute = tmp_path / "abs.tsv"
    absolute.write_text("x")
    sheet = _sheet(tmp_path, "liver,expr/liver.tsv,cov.txt,CAGE:brain; adult;;2; w/liver_w.csv\n"
                             "brain,expr/brain.bed.gz,,\n"
                             f"Lung-1_b,{absolute},,\n")
    liver, brain, lung = read_tissues(sheet)
    folder = sheet.parent
    assert (liver.name, liver.expression, liver.covariates) == ("liver", folder / "expr/liver.tsv",
                                                                folder / "cov.txt")
    assert liver.readouts == ["CAGE:brain", "adult", "2", "w/liver_w.csv"]  # raw ';' items
    assert (brain.name, brain.expression, brain.covariates, brain.readouts) == (
        "brain", folder / "expr/brain.bed.gz", None, [])
    assert lung.expression == absolute

    specs = resolve_readouts(liver, TRACKS, ["track:0"])
    assert [s.id for s in specs] == ["track:1", "track:2", "finetuned:liver_w"]
    assert specs[2] == ReadoutSpec("finetuned", weights=folder / "w" / "liver_w.csv")
    assert resolve_readouts(brain, TRACKS, ["track:0"]) == [ReadoutSpec("track", track=0)]
    # A name that is a prefix of a longer name ending at a ';' boundary.
    brain.readouts, brain.readouts_text = ["CAGE:brain"], "CAGE:brain;;CAGE:liver"
    assert [s.id for s in resolve_readouts(brain, TRACKS, [])] == ["track:3", "track:2"]


@pytest.mark.parametrize("body, words", [
    ("liver,expr/liver.tsv,,\nLiver,expr/liver.tsv,,\n", ["line 3", "'Liver' is listed twice", "line 2"]),
    ("liver,expr/nope.tsv,,\n", ["line 2", "nope.tsv' does not exist", "sheet's folder"]),
    ("liver,expr/liver.tsv,nope.txt,\n", ["line 2", "covariates", "nope.txt' does not exist"]),
    ("liver,expr/liver.tsv,,w/nope.csv\n", ["line 2", "weights CSV", "nope.csv' does not exist"]),
    ("my liver,expr/liver.tsv,,\n", ["line 2", "tissue 'my liver' is not valid", "letters, digits"]),
    ("..,expr/liver.tsv,,\n", ["line 2", "tissue '..' is not valid"]),
    (".lung,expr/liver.tsv,,\n", ["line 2", "tissue '.lung' is not valid", "'.' (not first)"]),
    ("liver,,,\n", ["line 2", "expression column is empty"]),
    (",expr/liver.tsv,,\n", ["line 2", "tissue column is empty", "name the tissue"]),
    ("liver,w/liver_w.csv,,\n", ["line 2", "expression 'w/liver_w.csv' is not valid", ".bed.gz"]),
    ("liver,expr/liver.tsv,,,extra\n", ["line 2", "more fields than the header"]),
    ("", ["has no rows"]),
])
def test_bad_tissue_sheet_is_one_line_error(tmp_path: Path, body: str, words: list[str]) -> None:
    sheet = _sheet(tmp_path, body)
    with pytest.raises(SeqgxError) as exc:
        read_tissues(sheet)
    msg = str(exc.value)
    assert "\n" not in msg and str(sheet) in msg
    for w in words:
        assert w in msg, msg


@pytest.mark.parametrize("text, words", [
    ("tissue\texpression\nliver\texpr/liver.tsv\n", ["line 1", "tab-separated, not a CSV"]),
    ("name,expression\nliver,expr/liver.tsv\n", ["line 1", "lacks column 'tissue'"]),
    ("tissue,expression,covariate\nliver,expr/liver.tsv,cov.txt\n", ["unknown column 'covariate'"]),
])
def test_bad_tissue_sheet_header(tmp_path: Path, text: str, words: list[str]) -> None:
    sheet = _write(_sheet(tmp_path, ""), text)
    with pytest.raises(SeqgxError) as exc:
        read_tissues(sheet)
    for w in words:
        assert w in str(exc.value), str(exc.value)


def test_unknown_track_name_names_sheet_row_and_fix(tmp_path: Path) -> None:
    sheet = _sheet(tmp_path, "liver,expr/liver.tsv,,\nbrain,expr/brain.bed.gz,,CAGE:lung\n")
    brain = read_tissues(sheet)[1]
    with pytest.raises(SeqgxError) as exc:
        resolve_readouts(brain, TRACKS, [])
    msg = str(exc.value)
    for w in (str(sheet), "line 3", "tissue 'brain'", "'CAGE:lung'", "exact name from the track list"):
        assert w in msg, msg
    brain.readouts, brain.readouts_text = ["9"], "9"
    with pytest.raises(SeqgxError, match="line 3.*out of range"):
        resolve_readouts(brain, TRACKS, [])


def test_default_tissue(tmp_path: Path) -> None:
    t = default_tissue("e.tsv", None, [])
    assert (t.name, t.expression, t.covariates, t.readouts) == (DEFAULT_TISSUE, Path("e.tsv"), None, [])
    assert [s.id for s in resolve_readouts(t, TRACKS, ["track:1", "finetuned"])] == ["track:1", "finetuned"]
    t = default_tissue("e.tsv", "c.txt", ["CAGE:liver"])
    assert t.covariates == Path("c.txt")
    assert resolve_readouts(t, TRACKS, ["track:1"]) == [ReadoutSpec("track", track=2)]


def test_schema_is_a_valid_json_schema() -> None:
    from jsonschema import Draft202012Validator

    text = resources.files("seqgx").joinpath("data/schema_tissues.json").read_text()
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    assert schema == tissues_schema()
    assert schema["items"]["required"] == ["tissue", "expression"]


def test_a_tissue_name_may_hold_dots(tmp_path: Path) -> None:
    """The pipeline takes the tissue from each task's meta map, never from a file name (issue 20)."""
    (tissue,) = read_tissues(_sheet(tmp_path, "brain.cortex_v8,expr/liver.tsv,,\n"))
    assert tissue.name == "brain.cortex_v8"
