"""Tables a reader understands (issue "Reliability", item 5): readout names beside the readout ids, and
booleans written one way (``true`` / ``false``) in every table seqgx writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import seqgx_run

from seqgx.analysis.assess import (
    BATCH_GENE_COLUMNS,
    BOOLEAN_COLUMNS,
    DRIVER_COLUMNS,
    MERGED_GENE_COLUMNS,
    readout_names,
)
from seqgx.cli import main

WORDS = {"true", "false"}


def _raw(path: Path) -> pd.DataFrame:
    """A TSV as the strings written, nothing parsed."""
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def _assert_boolean_words(table: pd.DataFrame, column: str, allow_na: bool = False) -> None:
    allowed = WORDS | ({"NA"} if allow_na else set())
    assert set(table[column]) <= allowed, (column, sorted(set(table[column])))


@pytest.fixture(scope="module")
def oracle_run(cohort: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("tables_run")
    return seqgx_run(cohort, work, tracks="oracle:TATA", tss_window=0, null_draws=50,
                     window_length=128 * 96, genes_per_batch=4)


def test_columns_place_readout_name_beside_readout() -> None:
    for cols in (BATCH_GENE_COLUMNS, MERGED_GENE_COLUMNS, DRIVER_COLUMNS):
        assert cols[cols.index("readout") + 1] == "readout_name"


def test_readout_name_of_the_oracle_track(oracle_run: Path) -> None:
    for table in [*(oracle_run / "stats").glob("*.genes.tsv"), oracle_run / "assessment" / "genes.tsv",
                  *(oracle_run / "stats").glob("*.drivers.tsv"), oracle_run / "assessment" / "drivers.tsv"]:
        t = _raw(table)
        assert list(t.columns[t.columns.get_loc("readout"):][:2]) == ["readout", "readout_name"], table
        assert set(t["readout"]) <= {"track:1"} and set(t["readout_name"]) <= {"oracle:TATA"}, table
    genes = _raw(oracle_run / "assessment" / "genes.tsv")
    assert len(genes) and set(genes["readout_name"]) == {"oracle:TATA"}


def test_every_boolean_column_is_true_or_false(oracle_run: Path) -> None:
    genes = _raw(oracle_run / "assessment" / "genes.tsv")
    _assert_boolean_words(genes, "significant")
    drivers = _raw(oracle_run / "assessment" / "drivers.tsv")
    assert len(drivers)  # the oracle's TATA motifs make drivers
    for c in ("is_main", "supported"):
        _assert_boolean_words(drivers, c, allow_na=(c == "supported"))
    for batch in (oracle_run / "stats").glob("*.drivers.tsv"):
        t = _raw(batch)
        _assert_boolean_words(t, "is_main")
        _assert_boolean_words(t, "supported", allow_na=True)
    # no other column holds booleans (BOOLEAN_COLUMNS names them all)
    for path in [*(oracle_run / "stats").glob("*.tsv"), *(oracle_run / "assessment").glob("*.tsv")]:
        t = _raw(path)
        for c in set(t.columns) - set(BOOLEAN_COLUMNS):
            values = set(t[c]) - {"NA"}
            assert not values or not values <= {"True", "False", "true", "false"}, (path.name, c)


def _batch(d: Path, name: str, genes: list[tuple], drivers: list[tuple], names: bool = True) -> None:
    cols = [c for c in BATCH_GENE_COLUMNS if names or c != "readout_name"]
    g = pd.DataFrame([dict.fromkeys(cols, np.nan) | {"gene_id": gid, "readout": ro, "r": r, "null_p": p,
                                                     "status": "ok"}
                      | ({"readout_name": f"name of {ro}"} if names else {})
                      for gid, ro, r, p in genes])[cols]
    g.to_csv(d / f"{name}.genes.tsv", sep="\t", index=False, na_rep="NA")
    dcols = [c for c in DRIVER_COLUMNS if names or c != "readout_name"]
    dr = pd.DataFrame([dict.fromkeys(dcols, 0) | {"gene_id": gid, "readout": ro, "variant_id": v,
                                                  "supported": sup, "is_main": main_}
                       | ({"readout_name": f"name of {ro}"} if names else {})
                       for gid, ro, v, sup, main_ in drivers], columns=dcols)
    dr.to_csv(d / f"{name}.drivers.tsv", sep="\t", index=False, na_rep="NA")


def test_merge_reads_any_boolean_spelling_and_writes_true_false(tmp_path: Path) -> None:
    """Batch tables in today's words, in pandas' True/False, as 1.0/0.0 and from a seqgx that wrote no
    readout_name: merge parses them all and writes one spelling."""
    _batch(tmp_path, "b1", [("g1", "A", 0.5, 0.001), ("g2", "A", 0.1, 0.9)],
           [("g1", "A", "v1", "true", "true"), ("g1", "A", "v2", "false", "false"),
            ("g2", "A", "v3", "NA", "false")])
    _batch(tmp_path, "b2", [("g3", "A", 0.4, 0.002)],
           [("g3", "A", "v4", 1.0, True), ("g3", "A", "v5", 0.0, False)], names=False)
    _batch(tmp_path, "b3", [("g4", "A", -0.4, 0.003)], [("g4", "A", "v6", "True", "False")])
    assert main(["merge", "--genes", str(tmp_path), "--out", str(tmp_path / "m")]) == 0
    g = _raw(tmp_path / "m" / "genes.tsv").set_index("gene_id")
    assert g.loc[["g1", "g2", "g3", "g4"], "significant"].tolist() == ["true", "false", "true", "true"]
    assert g.loc[["g1", "g3"], "readout_name"].tolist() == ["name of A", "A"]  # absent: the readout id
    d = _raw(tmp_path / "m" / "drivers.tsv").set_index("variant_id")
    assert d["supported"].tolist() == ["true", "false", "NA", "true", "false", "true"]
    assert d["is_main"].tolist() == ["true", "false", "false", "true", "false", "false"]
    assert d.loc[["v1", "v4"], "readout_name"].tolist() == ["name of A", "A"]
    s = json.loads((tmp_path / "m" / "summary.json").read_text())["readouts"]["A"]
    # g1 (r > 0): supported v1 of {v1, v2} -> 0.5; g3 (r > 0): v4 of {v4, v5} -> 0.5; g4 (r < 0): 1.0
    assert s["supported_fraction_positive_genes"] == pytest.approx(0.5)
    assert s["supported_fraction_negative_genes"] == pytest.approx(1.0)
    # pandas reads the words back as booleans
    assert pd.read_csv(tmp_path / "m" / "genes.tsv", sep="\t")["significant"].dtype == bool


def test_readout_names_from_the_reference_json(tmp_path: Path) -> None:
    ref = tmp_path / "G.reference.json"
    ref.write_text(json.dumps({"readouts": [
        {"name": "track:4980", "kind": "track", "track": 4980, "track_name": "CAGE:brain; adult;"},
        {"name": "track:7", "kind": "track", "track": 7, "track_name": ""},
        {"name": "finetuned", "kind": "finetuned", "weights": "/data/w/brain_weights.csv"}]}))
    names = readout_names(ref, ["track:4980", "track:7", "finetuned", "track:9"])
    assert names == {"track:4980": "CAGE:brain; adult;", "track:7": "track:7",
                     "finetuned": "finetuned:brain_weights.csv", "track:9": "track:9"}
    assert readout_names(tmp_path / "none.json", ["track:1"]) == {"track:1": "track:1"}
