"""Fingerprints of every published table of runs on the committed cohort, to show a refactor changes none.

    python tests/published_tables.py --out before.tsv            # seqgx run and nextflow run, 3 param sets
    python tests/published_tables.py --out after.tsv --compare before.tsv

Each run (``seqgx run`` and ``nextflow run`` of main.nf, offline, no containers) on the committed cohort
(tests/data/cohort) with: the one-tissue params, the two-tissue samplesheet, and one-tissue with
covariates, fine-mapping, gradients and the elastic net. Every table (.tsv) and JSON file the run
publishes is hashed (sha256), except what records when or where it ran: pipeline_info/, HTML and images,
and in JSON the keys that hold times or work-folder paths; an absolute path in a JSON string or a TSV
cell counts by its file name. Paths are written relative to the outdir.
``--compare`` prints every file that differs, is missing or is new and exits 1 if any.

Run it under one BLAS kernel for both fingerprints (OPENBLAS_CORETYPE as the environment sets it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COHORT = "tests/data/cohort"
# Keys whose values say when, how long or in which folder something ran: not part of a result.
VOLATILE_KEYS = {"seconds", "elapsed", "elapsed_s", "started", "finished", "wall_s", "time", "timestamp",
                 "haplotypes_file", "created", "date", "duration", "threads", "seqgx_version", "workdir"}
SKIP_DIRS = {"pipeline_info"}
SKIP_SUFFIXES = {".html", ".png", ".svg", ".pdf", ".npz", ".meme", ".onnx", ".log"}

PARAM_SETS = {
    "one_tissue": {"_file": f"{COHORT}/params.yaml", "null_draws": 200, "genes_per_batch": 4},
    "tissues": {"_file": f"{COHORT}/params_tissues.yaml", "null_draws": 200, "genes_per_batch": 4},
    "covariates": {"_file": f"{COHORT}/params.yaml", "null_draws": 200, "genes_per_batch": 4,
                   "covariates": f"{COHORT}/tissues/brain.covariates.txt",
                   "finemapped": f"{COHORT}/finemapped.tsv", "gradients": True, "elastic_net_baseline": True,
                   "expression": f"{COHORT}/tissues/brain.expression.bed.gz"},
}


def _clean(value: object, roots: list[str]) -> object:
    if isinstance(value, dict):
        return {k: _clean(v, roots) for k, v in sorted(value.items()) if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_clean(v, roots) for v in value]
    if isinstance(value, str):
        return _where_free(value, roots)
    return value


def _where_free(text: str, roots: list[str]) -> str:
    """A value without the folder it ran in: an absolute path becomes its file name (a Nextflow task
    stages inputs in a work folder named by the task's hash, which changes with the script)."""
    for root in roots:
        text = text.replace(root, "<root>")
    return Path(text).name if text.startswith(("/", "<root>/")) else text


def _tsv_where_free(data: bytes, roots: list[str]) -> bytes:
    """A TSV with each cell made free of where it ran (seqgx.check's vcfs.tsv lists VCF paths)."""
    lines = data.decode().split("\n")
    return "\n".join("\t".join(_where_free(c, roots) for c in line.split("\t")) for line in lines).encode()


def fingerprint(outdir: Path, roots: list[str]) -> dict[str, str]:
    """sha256 of each published table under ``outdir`` (JSON without its volatile keys)."""
    out = {}
    for f in sorted(outdir.rglob("*")):
        rel = f.relative_to(outdir)
        if not f.is_file() or rel.parts[0] in SKIP_DIRS or f.suffix in SKIP_SUFFIXES:
            continue
        data = f.read_bytes()
        if f.suffix == ".json":
            data = json.dumps(_clean(json.loads(data), roots), sort_keys=True).encode()
        elif f.suffix == ".tsv":
            data = _tsv_where_free(data, roots)
        out[str(rel)] = hashlib.sha256(data).hexdigest()
    return out


def _params_file(name: str, spec: dict, folder: Path, outdir: Path) -> Path:
    import yaml

    params = yaml.safe_load((REPO / spec["_file"]).read_text())
    params.update({k: v for k, v in spec.items() if not k.startswith("_")})
    params["outdir"] = str(outdir)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def _nextflow() -> str:
    found = shutil.which("nextflow")
    return found or str(REPO / ".nextflow-runtime" / "24.10.0" / "bin" / "nextflow")


def run_all(work: Path, runners: list[str]) -> dict[str, str]:
    env = os.environ | {"SEQGX_NO_PLUGINS": "true", "NXF_OFFLINE": "true", "NXF_ANSI_LOG": "false",
                        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    manifest: dict[str, str] = {}
    for name, spec in PARAM_SETS.items():
        for runner in runners:
            outdir = work / f"{runner}_{name}"
            params = _params_file(f"{runner}_{name}", spec, work, outdir)
            if runner == "seqgx":
                cmd = [str(Path(sys.executable).parent / "seqgx"), "run", str(params), "--overwrite"]
            else:
                cmd = [_nextflow(), "run", str(REPO / "main.nf"), "-params-file", str(params),
                       "-work-dir", str(work / f"work_{name}"), "-ansi-log", "false"]
            print(f"published_tables: {runner} {name}", file=sys.stderr, flush=True)
            done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"{runner} {name} failed (exit {done.returncode}):\n{done.stdout[-4000:]}"
                         f"\n{done.stderr[-4000:]}")
            for rel, digest in fingerprint(outdir, [str(work), str(REPO)]).items():
                manifest[f"{runner}/{name}/{rel}"] = digest
    return manifest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="manifest TSV to write (file, sha256)")
    ap.add_argument("--compare", help="an earlier manifest: list what differs, exit 1 if anything does")
    ap.add_argument("--runners", default="seqgx,nextflow", help="comma list of seqgx, nextflow")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="seqgx-published-") as tmp:
        manifest = run_all(Path(tmp), args.runners.split(","))
    Path(args.out).write_text("".join(f"{k}\t{v}\n" for k, v in sorted(manifest.items())))
    print(f"published_tables: {len(manifest)} files fingerprinted -> {args.out}")
    if not args.compare:
        return 0
    before = dict(line.split("\t") for line in Path(args.compare).read_text().splitlines())
    diff = sorted(k for k in set(before) | set(manifest) if before.get(k) != manifest.get(k))
    for k in diff:
        state = "missing" if k not in manifest else "new" if k not in before else "differs"
        print(f"{state}\t{k}")
    print(f"published_tables: {len(diff)} of {len(set(before) | set(manifest))} files differ")
    return 1 if diff else 0


if __name__ == "__main__":
    raise SystemExit(main())
