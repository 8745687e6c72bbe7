"""The flags the model steps share (`seqgx predict`, `seqgx ism`, `seqgx motifs`): a helper of the cli
package, not a subcommand. What the flags describe is built by seqgx.model.build."""

from __future__ import annotations

import argparse

from seqgx.params import add_param_arguments
from seqgx.threads import add_threads_argument


def add_model_arguments(p: argparse.ArgumentParser, step: str) -> None:
    """Inputs and model flags of the model steps (predict, ism, motifs), then every parameter flag of
    ``step`` (seqgx.params: backend, device, precision, bins, ..., and the step's own)."""
    p.add_argument("--haplotypes", nargs="+", required=True, help="<gene_id>.haplotypes.npz files")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--model", required=True,
                   help="an .onnx file; 'oracle' (test/demo model); a Hugging Face directory or hub id, "
                        "a state-dict file (.pt/.pth/.safetensors) or 'random' (torch backend)")
    p.add_argument("--hparams", help="Enformer hyper-parameters, JSON or a JSON file (state dicts, 'random')")
    p.add_argument("--tracks", nargs="+", default=None,
                   help="track readouts by index or exact name, 'default' (the model's default), or 'none' "
                        "(default 4980 'CAGE:brain; adult;' for Enformer; every track for models with <= 16 "
                        "tracks)")
    p.add_argument("--finetuned-weights", nargs="+",
                   help="weights CSV(s) (tracks,weights; last row offset,<intercept>); several (tissues) are "
                        "named finetuned:<file stem>")
    # model, hparams, tracks and finetuned_weights above: several values or a required input
    add_param_arguments(p, step, skip=("model", "hparams", "tracks", "finetuned_weights"))
    add_threads_argument(p)
