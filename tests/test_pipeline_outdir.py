"""A `seqgx run` owns its output folder: the same run continues, another run is refused, and the merged
tables hold exactly the current gene selection's batches."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import assert_one_line_error, run_cli

from seqgx.pipeline import STEPS

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "cohort"


def _params(tmp_path: Path, **extra: object) -> Path:
    params = {"fasta": str(DATA / "reference.fa"), "vcf": str(DATA / "cohort.vcf.gz"),
              "annotation": str(DATA / "genes.gtf"), "expression": str(DATA / "expression.tsv"),
              "outdir": str(tmp_path / "results"), "window_length": 16384, "genes_per_batch": 4,
              "model": "oracle", "tracks": "oracle:TATA", "tss_window": 20, "null_draws": 20, **extra}
    path = tmp_path / f"params-{len(list(tmp_path.glob('params-*')))}.json"
    path.write_text(json.dumps(params))
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("owned")
    proc = run_cli("run", str(_params(work)))
    assert proc.returncode == 0, proc.stderr
    return work


def test_the_record_names_the_run(finished: Path) -> None:
    record = json.loads((finished / "results" / "pipeline_info" / "run.json").read_text())
    assert record["configuration"]["params"]["null_draws"] == 20
    assert "outdir" not in record["configuration"]["params"]
    assert str(DATA / "expression.tsv") in record["configuration"]["inputs"]
    assert record["steps_done"] == ["check-inputs", "genes", "personalize", "export-onnx", "predict", "stats",
                                    "attribution-genes", "ism", "attribution-stats", "motifs",
                                    "merge", "report"]
    # backend auto: nothing to export; 20 null draws make no gene significant: phase 2 has nothing to do
    assert record["steps_without_tasks"] == ["export-onnx", "ism", "attribution-stats", "motifs"]


def test_the_same_run_again_continues_and_redoes_nothing(finished: Path) -> None:
    genes = finished / "results" / "assessment" / "genes.tsv"
    before = genes.stat().st_mtime_ns
    proc = run_cli("run", str(_params(finished)))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("done in an earlier run, skipped") == len(STEPS)
    assert genes.stat().st_mtime_ns == before


def test_other_settings_are_refused_then_replaced_with_overwrite(finished: Path, tmp_path: Path) -> None:
    copy = tmp_path / "results"
    shutil.copytree(finished / "results", copy)
    other = _params(tmp_path, null_draws=30)
    assert_one_line_error(run_cli("run", str(other)), f"output folder '{copy}' holds a run with other "
                          "settings (differs in: param null_draws)", "--overwrite")
    proc = run_cli("run", str(other), "--overwrite")
    assert proc.returncode == 0, proc.stderr
    genes = pd.read_csv(copy / "assessment" / "genes.tsv", sep="\t")
    assert set(genes.loc[genes["status"] == "ok", "null_draws"]) == {30}  # the new run's, throughout


def test_outputs_no_record_explains_are_refused(tmp_path: Path) -> None:
    (tmp_path / "results" / "stats").mkdir(parents=True)
    assert_one_line_error(run_cli("run", str(_params(tmp_path))),
                          "holds stats from a run seqgx did not record", "--overwrite")


def test_merge_takes_exactly_the_current_batches(finished: Path, tmp_path: Path) -> None:
    copy = tmp_path / "results"
    shutil.copytree(finished / "results", copy)
    # A batch table of another run left in stats/, and merge to be redone: it must not be merged.
    stale = copy / "stats" / "chr9_1.genes.tsv"
    shutil.copyfile(copy / "stats" / "chr1_1.genes.tsv", stale)
    record_file = copy / "pipeline_info" / "run.json"
    record = json.loads(record_file.read_text())
    record["steps_done"].remove("merge")
    record_file.write_text(json.dumps(record))
    proc = run_cli("run", str(_params(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    merged = pd.read_csv(copy / "assessment" / "genes.tsv", sep="\t")
    assert not merged.duplicated(["gene_id", "readout"]).any() and len(merged) == 6
    # An expected batch whose table is missing is an error naming it, not a smaller merge.
    (copy / "stats" / "chr2_1.genes.tsv").unlink()
    record = json.loads(record_file.read_text())
    record["steps_done"].remove("merge")
    record_file.write_text(json.dumps(record))
    assert_one_line_error(run_cli("run", str(_params(tmp_path))), "chr2_1.genes.tsv", "is missing")


def test_overwrite_removes_nested_step_folders(tmp_path: Path) -> None:
    """--overwrite replaces a finished two-phase run: attribution/ and the attribution/stats/ inside it
    (two steps' outputs, one within the other) go once, without an error for the second."""
    from seqgx.runinfo import claim_outdir

    out = tmp_path / "results"
    for folder in ("attribution/stats", "attribution/batches", "stats", "report/genes"):
        (out / folder).mkdir(parents=True)
        (out / folder / "x.tsv").write_text("x\n")
    (out / "pipeline_info").mkdir()
    (out / "pipeline_info" / "run.json").write_text('{"configuration": {}, "steps_done": []}')
    record = claim_outdir(out, {"outdir": str(out)}, overwrite=True)
    assert record.steps_done == []
    assert not any((out / d).exists() for d in ("attribution", "stats", "report"))
