"""Known causal variants (issue 15, item 5): reading fine-mapping tables, drivers vs credible sets, the
per-gene columns, summary.json's figures and Fig S6A. Expected values are counted by hand or computed
with np.corrcoef."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqgx.analysis.finemap import (
    annotate_drivers,
    finemap_summary,
    gene_finemap_columns,
    parse_variant_id,
    read_finemapped,
)
from seqgx.errors import SeqgxError
from seqgx.report import figures as F

# ---------------------------------------------------------------------------------------------------
# read_finemapped
# ---------------------------------------------------------------------------------------------------


def _write(tmp_path: Path, text: str, name: str = "fm.tsv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_both_layouts_give_the_same_table(tmp_path: Path) -> None:
    gtex = _write(tmp_path, "gene_id\tvariant_id\tpip\tcredible_set\ttissue\n"
                            "ENSG1.3\tchr1_100_A_G_b38\t0.7\tL1\tWhole_Blood\n"
                            "ENSG1.3\tchr1_250_c_t_b38\t0.25\tL1\tWhole_Blood\n"
                            "ENSG2\tchrX_5000_AT_A_b38\t1\tL2\tWhole_Blood\n", "gtex.tsv")
    colon = _write(tmp_path, "gene_id\tvariant_id\tpip\tcredible_set\n"
                             "ENSG1.3\tchr1:100:A:G\t0.7\tL1\n"
                             "ENSG1.3\t1:250:C:T\t0.25\tL1\n"
                             "ENSG2\tX:5000:AT:A\t1.0\tL2\n", "colon.tsv")
    coords = _write(tmp_path, "gene_id\tchrom\tpos\tref\talt\tpip\tcredible_set\n"
                              "ENSG1.3\t1\t100\tA\tG\t0.7\tL1\n"
                              "ENSG1.3\tchr1\t250\tC\tT\t0.25\tL1\n"
                              "ENSG2\tchrX\t5000\tAT\tA\t1\tL2\n", "coords.tsv")
    expected = pd.DataFrame({"gene_id": ["ENSG1.3", "ENSG1.3", "ENSG2"], "chrom": ["1", "1", "X"],
                             "pos": np.array([100, 250, 5000], dtype=np.int64), "ref": ["A", "C", "AT"],
                             "alt": ["G", "T", "A"], "pip": [0.7, 0.25, 1.0],
                             "credible_set": ["L1", "L1", "L2"]})
    for p in (gtex, colon, coords):
        pd.testing.assert_frame_equal(read_finemapped(p), expected)


def test_gtex_and_colon_variant_ids_parsed() -> None:
    assert parse_variant_id("chr1_12345_A_G_b38") == ("1", 12345, "A", "G")
    assert parse_variant_id("chr22_7_g_a_b37") == ("22", 7, "G", "A")
    assert parse_variant_id("chr1_12345_A_G") == ("1", 12345, "A", "G")
    assert parse_variant_id("chr1:12345:A:G") == ("1", 12345, "A", "G")
    for bad in ("chr1-12345-A-G", "chr1:12345:A", "chr1_x_A_G_b38", "chr1:0:A:G", "chr1:5:A:Z",
                "chr1_5_A_G_hg38", "rs12345", ""):
        assert parse_variant_id(bad) is None, bad


def test_rows_in_no_credible_set_are_left_out(tmp_path: Path) -> None:
    p = _write(tmp_path, "gene_id\tvariant_id\tpip\tcredible_set\n"
                         "G\tchr1_1_A_G_b38\t0.9\tL1\n"
                         "G\tchr1_2_A_G_b38\t0.01\tNA\n"
                         "G\tchr1_3_A_G_b38\t0.01\t-1\n"
                         "G\tchr1_4_A_G_b38\t0.01\t\n")
    t = read_finemapped(p)
    assert t["pos"].tolist() == [1]


@pytest.mark.parametrize(("text", "needle"), [
    ("gene_id\tvariant_id\tcredible_set\nG\tchr1_1_A_G_b38\tL1\n",
     "lacks column 'pip'"),
    ("gene_id\tchrom\tpos\tpip\tcredible_set\nG\t1\t5\t0.5\tL1\n",
     "lacks column 'variant_id'"),
    # header line 1, a record on line 2, a blank line 3: the bad record is on line 4
    ("gene_id\tvariant_id\tpip\tcredible_set\nG\tchr1_1_A_G_b38\t0.5\tL1\n\nG\trs123\t0.5\tL1\n",
     "line 4: variant_id 'rs123'"),
    ("gene_id\tchrom\tpos\tref\talt\tpip\tcredible_set\nG\t1\tfive\tA\tG\t0.5\tL1\n",
     "line 2: chrom/pos/ref/alt"),
    ("gene_id\tvariant_id\tpip\tcredible_set\nG\tchr1_1_A_G_b38\thigh\tL1\n",
     "line 2: pip 'high' is not a number in [0, 1]"),
    ("gene_id\tvariant_id\tpip\tcredible_set\nG\tchr1_1_A_G_b38\t1.5\tL1\n",
     "line 2: pip '1.5' is not a number in [0, 1]"),
    ("gene_id\tvariant_id\tpip\tcredible_set\nG\tchr1_1_A_G_b38\tnan\tL1\n",
     "line 2: pip 'nan'"),
    ("gene_id\tvariant_id\tpip\tcredible_set\n\tchr1_1_A_G_b38\t0.5\tL1\n",
     "line 2: empty gene_id"),
    ("gene_id\tvariant_id\tpip\tcredible_set\n", "has no rows"),
    ("", "is not a tab-separated table"),
    ("gene_id\tvariant_id\tpip\tcredible_set\nG\tchr1_1_A_G_b38\t0.5\tNA\n", "no variant in a credible set"),
])
def test_bad_tables_are_one_line_errors(tmp_path: Path, text: str, needle: str) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(SeqgxError) as err:
        read_finemapped(p)
    msg = str(err.value)
    assert needle in msg and str(p) in msg and "\n" not in msg


def test_missing_column_names_the_accepted_layouts(tmp_path: Path) -> None:
    p = _write(tmp_path, "gene\tvariant_id\tpip\tcredible_set\nG\tchr1_1_A_G_b38\t0.5\tL1\n")
    with pytest.raises(SeqgxError, match="accepted layouts: gene_id, variant_id, pip, credible_set or "
                                         "gene_id, chrom, pos, ref, alt, pip, credible_set"):
        read_finemapped(p)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SeqgxError, match="does not exist"):
        read_finemapped(tmp_path / "absent.tsv")


# ---------------------------------------------------------------------------------------------------
# annotate_drivers: a hand-made gene of 6 people on chr1
# ---------------------------------------------------------------------------------------------------

CAUSAL = [0, 1, 2, 0, 1, 2]
PARTIAL = [0, 0, 1, 0, 2, 1]


def _gene() -> tuple[pd.DataFrame, np.ndarray]:
    pos, ref, alt = [100, 200, 300, 400], ["A", "C", "G", "T"], ["G", "T", "A", "C"]
    ids = [f"chr1:{p}:{r}:{a}" for p, r, a in zip(pos, ref, alt, strict=True)]
    variants = pd.DataFrame({"variant_id": ids, "pos": pos, "ref": ref, "alt": alt})
    dosage = np.array([CAUSAL,                # 100 A>G: the credible variant
                       CAUSAL,                # 200 C>T: the same dosage in every person (perfect LD)
                       PARTIAL,               # 300 G>A: partial LD
                       [1, 1, 1, 1, 1, 1]],   # 400 T>C: constant, no LD computable
                      dtype=np.int8)
    return variants, dosage


def _drivers(rows: list[tuple[str, int, str, str, bool]]) -> pd.DataFrame:
    return pd.DataFrame({"gene_id": "ENSG1", "readout": [r[0] for r in rows],
                         "variant_id": [f"chr1:{r[1]}:{r[2]}:{r[3]}" for r in rows],
                         "pos": [r[1] for r in rows], "ref": [r[2] for r in rows],
                         "alt": [r[3] for r in rows], "is_main": [r[4] for r in rows]})


def _finemapped(rows: list[tuple[str, str, int, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame({"gene_id": [r[0] for r in rows], "chrom": [r[1] for r in rows],
                         "pos": np.array([r[2] for r in rows], dtype=np.int64), "ref": [r[3] for r in rows],
                         "alt": [r[4] for r in rows], "pip": [r[5] for r in rows], "credible_set": "L1"})


FM = _finemapped([("ENSG1.4", "1", 100, "A", "G", 0.7),     # in the window: testable
                  ("ENSG1.4", "1", 999, "A", "C", 0.2),     # not among the gene's variants
                  ("ENSG1.4", "2", 100, "A", "G", 0.1),     # another chromosome
                  ("ENSG9", "1", 300, "G", "A", 0.9)])      # another gene's credible variant


def test_annotate_drivers_causal_ld_none() -> None:
    variants, dosage = _gene()
    drivers = _drivers([("a", 100, "A", "G", True), ("a", 200, "C", "T", False), ("a", 300, "G", "A", False),
                        ("b", 400, "T", "C", True), ("b", 300, "G", "A", False)])
    out = annotate_drivers(drivers, variants, dosage, "chr1", FM, "ENSG1")
    r2_partial = np.corrcoef(CAUSAL, PARTIAL)[0, 1] ** 2  # (0.75^2 = 0.5625)
    assert r2_partial < 0.8
    assert out["finemap_match"].tolist() == ["causal", "ld", "none", "none", "none"]
    np.testing.assert_allclose(out["finemap_r2"].to_numpy(), [1.0, 1.0, r2_partial, np.nan, r2_partial],
                               rtol=1e-12)
    assert out["finemap_r2"].iloc[0] == 1.0
    np.testing.assert_allclose(out["finemap_pip"].to_numpy(), [0.7, 0.7, np.nan, np.nan, np.nan])
    assert out["finemap_variant"].tolist() == ["chr1:100:A:G", "chr1:100:A:G", "", "", ""]
    # The input columns are kept, the input untouched.
    assert list(out.columns[:len(drivers.columns)]) == list(drivers.columns)
    assert "finemap_match" not in drivers
    # 3 credible variants of ENSG1 (ENSG9's is not one); 999 and chr2 cannot be tested.
    assert out.attrs["finemap_credible"] == 3 and out.attrs["finemap_untestable"] == 2


def test_annotate_drivers_min_r2_lowers_the_ld_threshold() -> None:
    variants, dosage = _gene()
    drivers = _drivers([("a", 300, "G", "A", True)])
    r2 = np.corrcoef(CAUSAL, PARTIAL)[0, 1] ** 2
    assert annotate_drivers(drivers, variants, dosage, "1", FM, "ENSG1", min_r2=r2 - 1e-9)[
        "finemap_match"].tolist() == ["ld"]
    assert annotate_drivers(drivers, variants, dosage, "1", FM, "ENSG1", min_r2=r2 + 1e-9)[
        "finemap_match"].tolist() == ["none"]


def test_annotate_drivers_gene_without_finemapping() -> None:
    variants, dosage = _gene()
    drivers = _drivers([("a", 100, "A", "G", True), ("a", 300, "G", "A", False)])
    out = annotate_drivers(drivers, variants, dosage, "chr1", FM, "ENSG5")
    assert out["finemap_match"].tolist() == ["", ""]
    assert out["finemap_r2"].isna().all() and out["finemap_pip"].isna().all()
    assert out["finemap_variant"].tolist() == ["", ""]
    assert out.attrs["finemap_credible"] == 0 and out.attrs["finemap_untestable"] == 0


def test_annotate_drivers_no_drivers_still_counts_untestable() -> None:
    variants, dosage = _gene()
    out = annotate_drivers(_drivers([]), variants, dosage, "chr1", FM, "ENSG1")
    assert out.empty and {"finemap_match", "finemap_r2", "finemap_pip", "finemap_variant"} <= set(out.columns)
    assert out.attrs["finemap_untestable"] == 2


def test_annotate_drivers_ties_go_to_the_highest_pip_and_alleles_either_way() -> None:
    variants, dosage = _gene()
    # Credible: 200 written T>C (the cohort's C>T, the same site), PIP 0.3; 500 A>T, PIP 0.9, with the
    # dosage of 100 and 200. The driver at 100 is in perfect LD with both.
    fm = _finemapped([("ENSG1", "chr1", 200, "T", "C", 0.3), ("ENSG1", "1", 500, "A", "T", 0.9)])
    variants = pd.concat([variants, pd.DataFrame({"variant_id": ["chr1:500:A:T"], "pos": [500], "ref": ["A"],
                                                  "alt": ["T"]})], ignore_index=True)
    dosage = np.vstack([dosage, np.array([CAUSAL], dtype=np.int8)])  # 500 A>T: perfect LD with 100 and 200
    out = annotate_drivers(_drivers([("a", 100, "A", "G", True), ("a", 200, "C", "T", False)]), variants,
                           dosage, "chr1", fm, "ENSG1")
    # 100: r^2 = 1 with 200 (PIP 0.3) and 500 (PIP 0.9): the tie goes to 500.
    assert out["finemap_match"].tolist() == ["ld", "causal"]
    np.testing.assert_allclose(out["finemap_r2"].to_numpy(), [1.0, 1.0])
    np.testing.assert_allclose(out["finemap_pip"].to_numpy(), [0.9, 0.3])
    assert out["finemap_variant"].tolist() == ["chr1:500:A:T", "chr1:200:T:C"]
    assert out.attrs["finemap_untestable"] == 0


# ---------------------------------------------------------------------------------------------------
# Per gene and the summary: 5 genes, 2 readouts, counted by hand
# ---------------------------------------------------------------------------------------------------

def _genes_and_drivers() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    # readout a: G1 main causal; G2 main none, other ld; G3 fine-mapped without drivers;
    #            G4 not fine-mapped (main driver, match ''); G5 not fine-mapped, untested (R NaN).
    # readout b: G1 main ld; G2 main none, other none; the rest as in a.
    r = {"G1": 0.5, "G2": -0.4, "G3": 0.1, "G4": -0.3, "G5": math.nan}
    sig = {"G1": True, "G2": True, "G3": False, "G4": True, "G5": False}
    genes = pd.DataFrame([{"gene_id": g, "readout": ro, "readout_name": ro.upper(), "r": r[g],
                           "significant": sig[g]} for ro in ("a", "b") for g in r])
    nan = math.nan
    rows = [("G1", "a", True, "causal", 0.9), ("G2", "a", True, "none", nan), ("G2", "a", False, "ld", 0.4),
            ("G4", "a", True, "", nan),
            ("G1", "b", True, "ld", 0.6), ("G2", "b", True, "none", nan), ("G2", "b", False, "none", nan)]
    drivers = pd.DataFrame(rows, columns=["gene_id", "readout", "is_main", "finemap_match", "finemap_pip"])
    fm = _finemapped([("G1", "1", 1, "A", "G", 0.9), ("G2.3", "1", 2, "A", "G", 0.4),
                      ("G3", "1", 3, "A", "G", 0.5)])
    return genes, drivers, fm


def test_gene_finemap_columns_hand_counted() -> None:
    genes, drivers, fm = _genes_and_drivers()
    record = object()
    genes.attrs["genedata"] = record
    g = gene_finemap_columns(genes, drivers, fm, untestable={"G1": 0, "G2": 3})
    assert g.attrs["genedata"] is record and genes.attrs["genedata"] is record  # kept, not copied
    a = g[g["readout"] == "a"].set_index("gene_id")
    b = g[g["readout"] == "b"].set_index("gene_id")
    assert a["finemapped"].tolist() == [True, True, True, False, False]
    assert a["main_driver_causal"].tolist() == [True, False, pd.NA, pd.NA, pd.NA]
    assert a["any_driver_causal"].tolist() == [True, True, pd.NA, pd.NA, pd.NA]
    assert b["main_driver_causal"].tolist() == [True, False, pd.NA, pd.NA, pd.NA]
    assert b["any_driver_causal"].tolist() == [True, False, pd.NA, pd.NA, pd.NA]
    np.testing.assert_allclose(a["finemap_pip"].to_numpy(), [0.9, np.nan, np.nan, np.nan, np.nan])
    np.testing.assert_allclose(b["finemap_pip"].to_numpy(), [0.6, np.nan, np.nan, np.nan, np.nan])
    np.testing.assert_allclose(a["finemap_untestable"].to_numpy(), [0, 3, np.nan, np.nan, np.nan])
    assert list(g.columns[:len(genes.columns)]) == list(genes.columns)


def test_finemap_summary_hand_counted() -> None:
    genes, drivers, fm = _genes_and_drivers()
    s = finemap_summary(gene_finemap_columns(genes, drivers, fm, untestable={"G1": 0, "G2": 3}))
    a, b = s["a"], s["b"]
    assert (a["n_genes"], a["n_finemapped"], a["n_finemapped_with_main_driver"],
            a["n_finemapped_with_drivers"]) == (5, 3, 2, 2)
    assert a["fraction_main_driver_causal"] == pytest.approx(1 / 2)  # G1 yes, G2 no
    assert a["fraction_any_driver_causal"] == pytest.approx(2 / 2)   # G1, G2 (its ld driver)
    assert b["fraction_main_driver_causal"] == pytest.approx(1 / 2)
    assert b["fraction_any_driver_causal"] == pytest.approx(1 / 2)
    assert a["n_credible_untestable"] == 3
    # Fig S6A. Known causal SNV: G1 (sig, +), G2 (sig, -), G3 (not sig): 3 tested.
    k = a["genes_with_causal_snv"]
    assert (k["n_genes"], k["n_tested"], k["n_significant"], k["n_significant_negative"]) == (3, 3, 2, 1)
    assert k["fraction_significant"] == pytest.approx(2 / 3)
    assert k["fraction_significant_negative"] == pytest.approx(1 / 3)
    assert k["fraction_negative_of_significant"] == pytest.approx(1 / 2)
    # All genes: G5 untested; significant G1, G2, G4; negative G2, G4.
    al = a["all_genes"]
    assert (al["n_genes"], al["n_tested"], al["n_significant"], al["n_significant_negative"]) == (5, 4, 3, 2)
    assert al["fraction_significant"] == pytest.approx(3 / 4)
    assert al["fraction_significant_negative"] == pytest.approx(2 / 4)
    assert al["fraction_negative_of_significant"] == pytest.approx(2 / 3)


def test_finemap_summary_from_tables_read_back_as_words() -> None:
    genes, drivers, fm = _genes_and_drivers()
    g = gene_finemap_columns(genes, drivers, fm)
    words = g.assign(**{c: [None if pd.isna(v) else ("true" if v else "false") for v in g[c]]
                        for c in ("finemapped", "main_driver_causal", "any_driver_causal", "significant")})
    s = finemap_summary(g)
    assert finemap_summary(words)["a"]["genes_with_causal_snv"] == s["a"]["genes_with_causal_snv"]
    assert finemap_summary(words)["a"]["fraction_main_driver_causal"] == s["a"]["fraction_main_driver_causal"]
    assert math.isnan(s["a"]["n_credible_untestable"])  # no counts given


def test_finemap_summary_without_significance_or_finemapping() -> None:
    genes, drivers, fm = _genes_and_drivers()
    s = finemap_summary(gene_finemap_columns(genes, drivers, fm).drop(columns="significant"))
    k = s["a"]["genes_with_causal_snv"]
    assert k["n_genes"] == 3 and math.isnan(k["n_significant"]) and math.isnan(k["fraction_significant"])
    plain = finemap_summary(genes)  # no fine-mapping columns: nothing fine-mapped
    assert plain["a"]["n_finemapped"] == 0 and math.isnan(plain["a"]["fraction_main_driver_causal"])
    assert plain["a"]["all_genes"]["n_significant"] == 3


# ---------------------------------------------------------------------------------------------------
# Fig S6A
# ---------------------------------------------------------------------------------------------------

def test_finemapped_genes_figure_renders() -> None:
    genes, drivers, fm = _genes_and_drivers()
    g = gene_finemap_columns(genes, drivers, fm)
    one = F.finemapped_genes(g[g["readout"] == "a"])
    assert isinstance(one, F.Plot) and one.fig is not None and not one.reason
    assert one.data["group"].tolist() == ["known causal SNV", "all genes"]
    np.testing.assert_allclose(one.data["fraction_significant"], [2 / 3, 3 / 4])
    np.testing.assert_allclose(one.data["fraction_significant_negative"], [1 / 3, 2 / 4])
    labels = [t.get_text() for t in one.fig.axes[0].texts]
    assert labels == ["2/3", "3/4", "1/3", "2/4"]
    both = F.finemapped_genes(g)
    assert both.fig is not None and len(both.data) == 4
    assert [t.get_text() for t in both.fig.axes[0].get_xticklabels()][0] == "A\nknown causal SNV"


def test_finemapped_genes_not_computed_without_finemapped_genes() -> None:
    genes, drivers, fm = _genes_and_drivers()
    for g in (genes, gene_finemap_columns(genes, drivers, fm.assign(gene_id="OTHER"))):
        plot = F.finemapped_genes(g)
        assert plot.fig is None and "fine-mapped" in plot.reason
    unmerged = gene_finemap_columns(genes, drivers, fm).drop(columns="significant")
    assert F.finemapped_genes(unmerged).fig is None


def test_gene_ids_match_without_version_only_when_unique() -> None:
    variants, dosage = _gene()
    drivers = _drivers([("a", 100, "A", "G", True)])
    one = _finemapped([("ENSG1.4", "1", 100, "A", "G", 0.7)])
    two = _finemapped([("ENSG1.4", "1", 100, "A", "G", 0.7), ("ENSG1.5", "1", 100, "A", "G", 0.7)])

    def match(fm: pd.DataFrame, gene_id: str) -> list[str]:
        return annotate_drivers(drivers, variants, dosage, "chr1", fm, gene_id)["finemap_match"].tolist()

    assert match(one, "ENSG1.2") == ["causal"]
    assert match(two, "ENSG1.2") == [""]  # two versions: ambiguous
    assert match(two, "ENSG1.5") == ["causal"]
