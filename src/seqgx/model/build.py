"""The model steps' decisions (`seqgx predict`, `seqgx ism`, `seqgx motifs`, and the run's plan).

- :func:`build_predictor`: the Predictor the model options describe (backend, readouts, ensemble);
- :func:`default_tracks`: a model's default readout tracks;
- :func:`ism_method_of`: the ONNX model -> full ISM decision (the one place it is taken: the CLIs,
  :func:`seqgx.plan.attribution_model` and through the plan `seqgx run` use it);
- :func:`attribution_method`: the ISM method of `seqgx ism` and `seqgx motifs` (--method, the fallback
  to full-forward ISM where fast ISM cannot run).

The model options are the flags of ``seqgx.cli._model_args.add_model_arguments``: an
``argparse.Namespace`` or any object with the same attributes. Nothing here imports torch at import
time (the run's plan imports this module).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqgx.errors import SeqgxError
from seqgx.log import get_logger

log = get_logger(__name__)


def default_tracks(names: list[str]) -> list[str]:
    """The default readout tracks of a model with track ``names``: 4980 ('CAGE:brain; adult;') for
    Enformer's 5313 human tracks, every track of a model with <= 16 tracks; else a one-line error
    (choose --tracks)."""
    if len(names) == 5313:
        return ["4980"]
    if len(names) <= 16:
        return [str(i) for i in range(len(names))]
    raise SeqgxError(f"the model has {len(names)} tracks; choose readouts with --tracks (index or name)")


def build_predictor(options: Any, window_length: int) -> tuple[Any, Any, list[int]]:
    """What the model options describe: (Predictor, the full backend, the readout bins).

    ``options``: the model flags (model, backend, hparams, providers, device, precision,
    allow_cpu_fallback, track_names, seed, bins, tracks, finetuned_weights, pseudocount, max_shift,
    reverse_complement, batch_size); ``window_length``: the haplotype windows' length in bp, which the
    model takes as its input length. The Predictor's outputs are (n, len(bins), n_tracks needed).
    """
    from seqgx.model.predict import Predictor, open_backend
    from seqgx.model.readouts import (
        TrackReadout,
        finetuned_labels,
        load_finetuned_readout,
        parse_bins,
        readouts_of_specs,
    )

    args = options
    if args.max_shift < 0:
        raise SeqgxError(f"--max-shift must be >= 0, got {args.max_shift}")
    providers = [s for s in args.providers.split(",") if s.strip()] if args.providers else None
    backend = open_backend(args.model, window_length, backend=args.backend, hparams=args.hparams,
                           providers=providers, device=args.device, precision=args.precision,
                           allow_cpu_fallback=args.allow_cpu_fallback, track_names=args.track_names,
                           seed=args.seed)
    names = backend.track_names
    bins = parse_bins(args.bins, backend.n_bins)
    weights = args.finetuned_weights or []
    default = default_tracks(names) if len(names) == 5313 or len(names) <= 16 else []
    if args.tracks is not None:
        track_specs = args.tracks
    elif weights and not default:
        track_specs = []  # no sensible default track; the fine-tuned readout alone
    else:
        track_specs = ["default"] if default else default_tracks(names)  # (the latter raises)
    if [s.lower() for s in track_specs] == ["none"]:
        track_specs = []
    readouts: list = [TrackReadout(t, bins, names[t], specs=asked)
                      for t, asked in readouts_of_specs(track_specs, names, default)]
    for path, label in zip(weights, finetuned_labels(weights), strict=True):
        readouts.append(load_finetuned_readout(path, names, bins, args.pseudocount, label=label))
    shifts = range(-args.max_shift, args.max_shift + 1)
    predictor = Predictor(backend, readouts, shifts=shifts, reverse_complement=args.reverse_complement,
                          batch_size=args.batch_size or None)
    return predictor, backend, bins


def torch_module(backend: Any) -> Any:
    """The torch module of an opened backend (seqgx.model.predict), None for an ONNX backend (no trunk
    for fast ISM, no input gradients)."""
    from seqgx.model.predict import TorchBackend

    return backend.module if isinstance(backend, TorchBackend) else None


def ism_method_of(model: str | Path, backend: Any = "auto", requested: str = "fast") -> tuple[str, str]:
    """The ONNX model -> full ISM decision: ``(method, why)``.

    ISM of an ONNX model recomputes the whole model for every SNV (an ONNX graph has no torch trunk to
    recompute around a SNV): ``('full', why)``, ``why`` the one-line reason. With torch weights the fast
    exact path applies: ``(requested, '')``.

    ``model``: the weights ISM uses (a path, hub id or named model); ``backend``: the opened backend
    (seqgx.model.predict.Backend: ONNX unless it is a TorchBackend), or as the --backend flag names one,
    'onnx', 'torch' or 'auto' (the file decides, as :func:`seqgx.model.predict.open_backend` does: an
    .onnx file runs on the ONNX backend); ``requested``: the ISM method asked for ('fast' or 'full').
    """
    if isinstance(backend, str):
        onnx = backend == "onnx" or (backend == "auto" and str(model).endswith(".onnx"))
    else:
        onnx = torch_module(backend) is None
    if onnx:
        return "full", f"model '{model}' runs on the ONNX backend (fast ISM needs the torch model)"
    return requested, ""


def attribution_method(options: Any, backend: Any) -> str:
    """'fast' or 'full': --method, falling back to full-forward ISM where fast ISM cannot run only when
    --allow-full-forward allows it (else a one-line error saying why).

    ``options``: the model flags with ism_method, allow_full_forward, model, max_shift,
    reverse_complement and precision; ``backend``: the opened backend (seqgx.model.predict.Backend)."""
    args = options
    if args.ism_method != "fast":
        return args.ism_method
    why = _fast_unavailable(args, backend)
    if not why:
        return "fast"
    if not args.allow_full_forward:
        raise SeqgxError(f"fast ISM is not possible: {why}; use --method full, or add "
                         f"--allow-full-forward to fall back to full-forward ISM")
    log.warning("fast ISM is not possible (%s): using full-forward ISM as allowed", why)
    return "full"


def _fast_unavailable(args: Any, backend: Any) -> str:
    """Why the fast path cannot run (empty string when it can)."""
    from seqgx.model.attribution import split_model

    _, onnx = ism_method_of(args.model, backend)
    if onnx:
        return onnx
    if args.max_shift or args.reverse_complement:
        return "the shift / reverse-complement ensemble is only supported by full-forward ISM"
    if args.precision != "fp32":
        return f"fast ISM runs in fp32 only, not {args.precision}"
    try:
        split_model(torch_module(backend))
    except SeqgxError as exc:
        return str(exc).split(";")[0]
    return ""
