"""seqgx export-onnx: export a model to ONNX for a fixed window length, verified before writing."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from seqgx.params import add_param_arguments
from seqgx.threads import add_threads_argument, set_threads

NAME = "export-onnx"
HELP = "Export Enformer (or the oracle) to ONNX: fixed length, dynamic batch, fp32 or fp16, verified"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True,
                   help="Hugging Face directory or hub id, state-dict file (.pt/.pth/.safetensors), "
                        "'random' (with --hparams) or 'oracle'")
    p.add_argument("--hparams", help="Enformer hyper-parameters as JSON or a JSON file "
                                     "(for state-dict files and 'random'; e.g. '{\"dim\": 48}')")
    p.add_argument("--head", default="human", help="Enformer output head (default human)")
    p.add_argument("--precision", choices=("fp32", "fp16"), default="fp32",
                   help="weights and arithmetic precision; input and output stay float32 (default fp32)")
    # --bins and --tracks: what the ONNX file keeps (not the run's readouts: a pipeline run exports all)
    p.add_argument("--bins", dest="export_bins", default="all",
                   help="output bins to keep: 'all' (default), 'centre:3', '447-449' or '447,448,449'")
    p.add_argument("--tracks", dest="export_tracks", nargs="+", default=None,
                   help="output tracks to keep, by index or exact name (default all)")
    p.add_argument("--atol", type=float, help="absolute tolerance of the ONNX-vs-PyTorch check "
                                              "(default 1e-4 fp32, 5e-2 fp16)")
    p.add_argument("--rtol", type=float, help="relative tolerance (default 1e-3 fp32, 5e-2 fp16)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--out", required=True, help="output .onnx file")
    # window_length, seed, track_names (stored in the ONNX file); precision above: fp32 or fp16 only
    add_param_arguments(p, NAME, skip=("model", "hparams", "precision"))
    add_threads_argument(p)


def run(args: argparse.Namespace) -> int:
    from seqgx.model.models import export_onnx, load_model, read_track_names
    from seqgx.model.readouts import parse_bins, resolve_tracks

    set_threads(args.threads, import_torch=True)  # torch export and the ONNX Runtime parity check
    names = read_track_names(args.track_names) if args.track_names else None
    model = load_model(args.model, args.window_length, args.hparams, seed=args.seed, head=args.head,
                       track_names=names)
    bins = None if args.export_bins == "all" else parse_bins(args.export_bins, model.n_bins)
    tracks = (None if not args.export_tracks or args.export_tracks == ["all"]
              else resolve_tracks(args.export_tracks, model.track_names))
    report = export_onnx(model, args.out, precision=args.precision, bins=bins, tracks=tracks,
                         atol=args.atol, rtol=args.rtol, seed=args.seed, opset=args.opset)
    print(json.dumps({**asdict(report), "model": model.identity}, default=str))
    return 0
