"""A `seqgx run` owns its output folder: what it ran is recorded in ``pipeline_info/run.json``.

A second run into the same folder with the same configuration (seqgx version, every parameter that
changes results, i.e. not ``outdir``, the resource caps or the cloud settings, and each input file's
size and modification time) continues it: steps recorded as done
whose outputs are still there are skipped. A different configuration, or seqgx outputs that no
record explains, is refused with one line, unless ``--overwrite`` replaces them. So a folder never
mixes the tables of two runs.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqgx import __version__
from seqgx.errors import SeqgxError
from seqgx.io import atomic_output

RECORD = Path("pipeline_info") / "run.json"
# The folder each step writes, in step order; a step is done only while its folder is there.
STEP_OUTPUTS = {"check-inputs": "check", "genes": "genes", "personalize": "haplotypes",
                "export-onnx": "model", "predict": "predictions", "stats": "stats",
                "attribution-genes": "attribution", "ism": "ism", "attribution-stats": "attribution/stats",
                "motifs": "motifs", "merge": "assessment", "report": "report"}


def _input_files(params: dict[str, Any]) -> dict[str, list[int] | None]:
    """Size and mtime (ns) of every input file a path parameter names (None: not a local file)."""
    from seqgx.params import PARAMS

    found: dict[str, list[int] | None] = {}
    for p in PARAMS:
        value = params.get(p.name)
        if not p.is_path or not value:
            continue
        for name in str(value).split(","):
            path = Path(name)
            found[name] = [path.stat().st_size, path.stat().st_mtime_ns] if path.is_file() else None
    return found


# Parameters that change where and how a run executes, not what it computes.
_NOT_RESULTS = {"output", "resources", "infrastructure"}


def configuration(params: dict[str, Any]) -> dict[str, Any]:
    """What makes two runs the same run."""
    from seqgx.params import PARAMS_BY_NAME

    kept = {k: v for k, v in sorted(params.items())
            if k not in PARAMS_BY_NAME or PARAMS_BY_NAME[k].group not in _NOT_RESULTS}
    return {"seqgx_version": __version__, "params": kept, "inputs": _input_files(params)}


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    names = [k for k in ("seqgx_version",) if old.get(k) != new.get(k)]
    for section in ("params", "inputs"):
        a, b = old.get(section, {}), new.get(section, {})
        names += [f"{section[:-1] if section == 'params' else 'input file'} {k}"
                  for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return names


@dataclass
class RunRecord:
    """The run recorded in ``out``: its configuration and the steps that finished."""

    out: Path
    configuration: dict[str, Any]
    steps_done: list[str] = field(default_factory=list)
    steps_without_tasks: list[str] = field(default_factory=list)  # done, with nothing to write

    def is_done(self, step: str) -> bool:
        """Finished in this run, with its output folder still there (if it had anything to write)."""
        folder = STEP_OUTPUTS.get(step)
        return step in self.steps_done and (step in self.steps_without_tasks or folder is None
                                            or (self.out / folder).exists())

    def forget_from(self, step: str) -> None:
        """Mark ``step`` and every later step as not done (they will run again)."""
        order = list(STEP_OUTPUTS)
        later = set(order[order.index(step):]) if step in order else {step}
        self.steps_done = [s for s in self.steps_done if s not in later]
        self.steps_without_tasks = [s for s in self.steps_without_tasks if s not in later]
        self.save()

    def mark_done(self, step: str, tasks: int) -> None:
        if step not in self.steps_done:
            self.steps_done.append(step)
        if tasks == 0 and step not in self.steps_without_tasks:
            self.steps_without_tasks.append(step)
        self.save()

    def save(self) -> None:
        with atomic_output(self.out / RECORD) as tmp:
            tmp.write_text(json.dumps({"configuration": self.configuration, "steps_done": self.steps_done,
                                       "steps_without_tasks": self.steps_without_tasks},
                                      indent=2, default=str) + "\n")


def claim_outdir(out: Path, params: dict[str, Any], overwrite: bool = False) -> RunRecord:
    """The record of the run that owns ``out``: a new one, or the same run's to continue.

    Refuses (SeqgxError) a folder holding another configuration's run, or seqgx outputs without a
    record, unless ``overwrite``, which removes them first."""
    config = json.loads(json.dumps(configuration(params), default=str))  # as it reads back from JSON
    record_file = out / RECORD
    old = None
    if record_file.is_file():
        try:
            old = json.loads(record_file.read_text())
        except (OSError, json.JSONDecodeError):
            old = None
    present = [d for d in STEP_OUTPUTS.values() if (out / d).exists()]
    if not overwrite:
        if old is None and present:
            raise SeqgxError(f"output folder '{out}' holds {', '.join(present)} from a run seqgx did not "
                             f"record; choose another outdir, or pass --overwrite to replace them")
        if old is not None and old.get("configuration") != config:
            differs = _differences(old.get("configuration", {}), config)
            raise SeqgxError(f"output folder '{out}' holds a run with other settings (differs in: "
                             f"{', '.join(differs[:6])}); choose another outdir, or pass --overwrite "
                             f"to replace it")
        if old is not None:
            return RunRecord(out, config, list(old.get("steps_done", [])),
                             list(old.get("steps_without_tasks", [])))
    for folder in present:
        if (out / folder).exists():  # a nested step folder (attribution/stats) goes with its parent
            shutil.rmtree(out / folder)
    record_file.unlink(missing_ok=True)
    record = RunRecord(out, config)
    record.save()
    return record
