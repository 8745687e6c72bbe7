"""seqgx fetch-model: download a Hugging Face hub model once, into a folder the pipeline stages."""

from __future__ import annotations

import argparse
import json
import shutil

from seqgx.errors import SeqgxError

NAME = "fetch-model"
HELP = ("Download a model from the Hugging Face hub into a folder (once per run; predict and ism then "
        "read the folder, never the network)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="hub id, e.g. EleutherAI/enformer-official-rough")
    p.add_argument("--out", required=True,
                   help="output folder; name it after the hub id's last part (e.g. enformer-official-rough) "
                        "so the model keeps its identity and settings when loaded from it")


def run(args: argparse.Namespace) -> int:
    from seqgx.io import atomic_output
    from seqgx.model.models import hub_download, is_hub_id, load_enformer

    if not is_hub_id(args.model):
        raise SeqgxError(f"--model '{args.model}' is not a hub id (owner/name); local and S3 models need "
                         f"no fetching: pass them to predict and ism directly")
    snapshot = hub_download(args.model)
    with atomic_output(args.out, directory=True) as tmp:
        for f in snapshot.iterdir():  # the hub cache holds symlinks into its blob store: copy the files
            if f.is_file():
                shutil.copyfile(f, tmp / f.name)
        _, identity = load_enformer(str(tmp))  # a download that does not load fails here, not per task
    print(json.dumps({"model": args.model, "out": args.out, "sha256": identity["sha256"],
                      "files": sorted(f.name for f in snapshot.iterdir() if f.is_file())}))
    return 0
