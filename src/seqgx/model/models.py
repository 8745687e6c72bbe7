"""Sequence-to-expression models: loading Enformer, the oracle test model, and ONNX export.

Every model seqgx runs maps float32 one-hot ``(batch, length, 4)`` (A, C, G, T; N = zeros) to
float32 ``(batch, bins, tracks)``. Enformer is wrapped in :class:`EnformerFixed`, which fixes the
input length so the transformer's relative positional features (which depend only on the length,
and use ``lgamma``/``xlogy`` that ONNX lacks) become a precomputed constant, and which can compute
only the output bins and tracks a run needs: everything after the transformer acts per bin, and the
heads per track, so cropping there is exact.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seqgx.errors import SeqgxError
from seqgx.io import atomic_output
from seqgx.log import get_logger
from seqgx.threads import configured_threads

log = get_logger(__name__)

ENFORMER_SEQ_LEN = 196_608
OFFICIAL_HUB_ID = "EleutherAI/enformer-official-rough"
STATE_DICT_SUFFIXES = (".pt", ".pth", ".safetensors", ".bin")
ONNX_INPUT = "onehot"
ONNX_OUTPUT = "tracks"
META_PREFIX = "seqgx."

# ---------------------------------------------------------------------------------------------------
# Track names


def human_track_names() -> list[str]:
    """Names of Enformer's 5,313 human tracks in output order (package data ``human_tracks.tsv``)."""
    text = resources.files("seqgx").joinpath("data/human_tracks.tsv").read_text()
    return _parse_track_table(text, "package data human_tracks.tsv")


def read_track_names(path: str | os.PathLike) -> list[str]:
    """Track names from a TSV with a ``name`` column (as ``human_tracks.tsv``) or one name per line."""
    p = Path(path)
    if not p.is_file():
        raise SeqgxError(f"track names file '{p}' does not exist; pass a TSV with a 'name' column")
    return _parse_track_table(p.read_text(), str(p))


def _parse_track_table(text: str, source: str) -> list[str]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise SeqgxError(f"track names file '{source}' is empty; list one track name per line")
    header = lines[0].split("\t")
    if "name" in header:
        col = header.index("name")
        names = []
        for i, ln in enumerate(lines[1:], start=2):
            parts = ln.split("\t")
            if len(parts) <= col:
                raise SeqgxError(f"track names file '{source}' line {i} has no 'name' field; "
                                 f"give every row {len(header)} tab-separated fields")
            names.append(parts[col])
        return names
    return [ln.rstrip("\n") for ln in lines]


def default_track_names(n_tracks: int) -> list[str]:
    """Enformer's human names when there are 5,313 tracks, else ``track_<i>``."""
    names = human_track_names()
    return names if n_tracks == len(names) else [f"track_{i}" for i in range(n_tracks)]


# ---------------------------------------------------------------------------------------------------
# Identity


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def state_dict_sha256(module: nn.Module) -> str:
    """Checksum of a module's parameters and buffers (names, shapes, dtypes and bytes, sorted)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


@dataclass
class LoadedModel:
    """A torch model ready for one window length, with what outputs record about it."""

    module: nn.Module  # (B, L, 4) float32 -> (B, n_bins or selected, n_tracks or selected)
    seq_len: int
    n_bins: int
    track_names: list[str]
    identity: dict[str, Any] = field(default_factory=dict)

    def select(self, bins: Sequence[int] | None, tracks: Sequence[int] | None) -> nn.Module:
        """A module computing only ``bins`` x ``tracks`` (original indices); shares the weights."""
        return self.module.select(bins, tracks)  # type: ignore[operator]


# ---------------------------------------------------------------------------------------------------
# Enformer with a fixed length


def _n_positions(seq_len: int, num_downsamples: int) -> int:
    n = seq_len
    for _ in range(num_downsamples):  # attention pools pad odd lengths, hence ceil
        n = -(-n // 2)
    return n


def _relative_shift(x: torch.Tensor) -> torch.Tensor:
    # Same arithmetic as enformer_pytorch.relative_shift, with the batch as -1 so export keeps it dynamic.
    _, h, t1, t2 = x.shape
    x = torch.cat((torch.zeros_like(x[..., :1]), x), dim=-1)
    x = x.reshape(-1, h, t2 + 1, t1)[:, :, 1:, :]
    x = x.reshape(-1, h, t1, t2)
    return x[..., : (t2 + 2) // 2]


class _FixedAttention(nn.Module):
    """Enformer's attention with the relative positional features given as a constant buffer."""

    def __init__(self, attn: nn.Module, n: int):
        super().__init__()
        from enformer_pytorch.modeling_enformer import get_positional_embed

        self.attn = attn
        pos = get_positional_embed(n, attn.num_rel_pos_features, torch.device("cpu"),
                                   use_tf_gamma=attn.use_tf_gamma, dtype=torch.float32)
        self.register_buffer("positions", pos.to(attn.to_rel_k.weight.dtype), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.attn
        b, n, _ = x.shape
        h = a.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b, n, h, -1).transpose(1, 2)

        q, k, v = split(a.to_q(x)), split(a.to_k(x)), split(a.to_v(x))
        q = q * a.scale
        content = torch.matmul(q + a.rel_content_bias, k.transpose(-1, -2))
        rel_k = a.to_rel_k(self.positions.to(x.dtype))  # (2n-1, h*d)
        rel_k = rel_k.reshape(rel_k.shape[0], h, -1).transpose(0, 1)  # (h, 2n-1, d)
        rel = _relative_shift(torch.matmul(q + a.rel_pos_bias, rel_k.transpose(-1, -2).unsqueeze(0)))
        attn = (content + rel).softmax(dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(b, n, -1)
        return a.to_out(out)


class EnformerFixed(nn.Module):
    """Enformer for a fixed input length: (B, L, 4) one-hot -> (B, len(bins), len(tracks)).

    ``bins`` index the model's output bins (after its centre crop), ``tracks`` the chosen head's
    tracks; ``None`` keeps all. Cropping happens before the per-bin final layers and the head
    rows are sliced, so the selected values equal the full model's exactly.
    """

    def __init__(self, enformer: nn.Module, seq_len: int, head: str = "human",
                 bins: Sequence[int] | None = None, tracks: Sequence[int] | None = None):
        super().__init__()
        cfg = enformer.config
        if head not in enformer.heads:
            raise SeqgxError(f"Enformer has no head '{head}' (heads: {', '.join(enformer.heads)}); "
                             f"pass one of those")
        self.enformer = enformer
        self.seq_len = int(seq_len)
        self.head_name = head
        self.n_positions = _n_positions(self.seq_len, cfg.num_downsamples)
        self.n_bins = self.n_positions if cfg.target_length == -1 else int(cfg.target_length)
        if self.n_bins > self.n_positions:
            raise SeqgxError(f"Enformer target_length {self.n_bins} exceeds the {self.n_positions} "
                             f"positions of a {self.seq_len} bp input; use a longer window")
        head_lin = enformer.heads[head][0]
        self.n_tracks = head_lin.out_features
        self.bins = _check_indices(bins, self.n_bins, "bin")
        self.tracks = _check_indices(tracks, self.n_tracks, "track")
        self.attentions = nn.ModuleList(_FixedAttention(blk[0].fn[1], self.n_positions)
                                        for blk in enformer.transformer)
        self.register_buffer("bin_index", torch.as_tensor(self.bins, dtype=torch.long), persistent=False)
        self._bins_slice = _as_slice(self.bins)
        self.register_buffer("head_weight", head_lin.weight.detach()[self.tracks].clone(), persistent=False)
        self.register_buffer("head_bias", head_lin.bias.detach()[self.tracks].clone(), persistent=False)

    def select(self, bins: Sequence[int] | None, tracks: Sequence[int] | None) -> EnformerFixed:
        return EnformerFixed(self.enformer, self.seq_len, self.head_name, bins, tracks).to(
            self.head_weight.device).train(self.training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.enformer
        x = x.to(self.head_weight.dtype).transpose(1, 2)
        x = e.conv_tower(e.stem(x)).transpose(1, 2)
        for blk, attn in zip(e.transformer, self.attentions, strict=True):
            ln, _, drop = blk[0].fn
            x = x + drop(attn(ln(x)))
            x = x + blk[1].fn(x)
        trim = (self.n_positions - self.n_bins) // 2
        if self._bins_slice is not None:
            x = x[:, trim + self._bins_slice.start: trim + self._bins_slice.stop]
        else:
            x = x[:, trim: trim + self.n_bins].index_select(1, self.bin_index)
        x = e.final_pointwise(x)
        return F.softplus(F.linear(x, self.head_weight, self.head_bias)).float()


def _check_indices(idx: Sequence[int] | None, n: int, what: str) -> list[int]:
    if idx is None:
        return list(range(n))
    out = [int(i) for i in idx]
    bad = [i for i in out if not 0 <= i < n]
    if bad:
        raise SeqgxError(f"{what} index {bad[0]} is out of range: the model has {n} {what}s (0..{n - 1}); "
                         f"choose {what}s inside that range")
    if not out:
        raise SeqgxError(f"no {what}s selected; select at least one {what}")
    return out


def _as_slice(idx: list[int]) -> slice | None:
    if idx == list(range(idx[0], idx[0] + len(idx))):
        return slice(idx[0], idx[0] + len(idx))
    return None


# ---------------------------------------------------------------------------------------------------
# Oracle


class OracleModel(nn.Module):
    """A deterministic test/demo model with outputs known in closed form (not biology).

    Input (B, L, 4) one-hot, L divisible by ``bin_size``. The sequence is cut into ``L // bin_size``
    bins; the centre bins are kept, cropping the same fraction as Enformer (320 of 1536 bins each
    side, so 196,608 bp -> 896 bins). Tracks, per bin:

    - ``oracle:GC``: number of C or G bases in the bin;
    - ``oracle:TATA`` / ``oracle:CACGTG``: number of exact occurrences of the motif (forward strand;
      both motifs are their own reverse complement) whose first base lies in the bin.

    Built from convolutions, a ReLU and sums, so it exports to ONNX and has input gradients.
    """

    MOTIFS = ("TATA", "CACGTG")
    TRACK_NAMES = ["oracle:GC", "oracle:TATA", "oracle:CACGTG"]

    def __init__(self, seq_len: int, bin_size: int = 128, bins: Sequence[int] | None = None,
                 tracks: Sequence[int] | None = None):
        super().__init__()
        if seq_len % bin_size:
            raise SeqgxError(f"oracle model needs a window length divisible by {bin_size}, got {seq_len}; "
                             f"choose such a window length")
        self.seq_len, self.bin_size = int(seq_len), int(bin_size)
        n_full = seq_len // bin_size
        self.trim = n_full * 320 // 1536
        self.n_bins = n_full - 2 * self.trim
        self.n_tracks = len(self.TRACK_NAMES)
        self.bins = _check_indices(bins, self.n_bins, "bin")
        self.tracks = _check_indices(tracks, self.n_tracks, "track")
        klen = max(len(m) for m in self.MOTIFS)
        w = torch.zeros(self.n_tracks, 4, klen)
        w[0, 1, 0] = w[0, 2, 0] = 1.0  # C or G at the first position
        for t, motif in enumerate(self.MOTIFS, start=1):
            for j, base in enumerate(motif):
                w[t, "ACGT".index(base), j] = 1.0
        thresholds = torch.tensor([0.0] + [len(m) - 1.0 for m in self.MOTIFS])
        self.register_buffer("weight", w)
        self.register_buffer("threshold", thresholds)
        self.register_buffer("bin_index", torch.as_tensor(self.bins, dtype=torch.long), persistent=False)
        self.register_buffer("track_index", torch.as_tensor(self.tracks, dtype=torch.long), persistent=False)

    def select(self, bins: Sequence[int] | None, tracks: Sequence[int] | None) -> OracleModel:
        return OracleModel(self.seq_len, self.bin_size, bins, tracks).to(self.weight.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().transpose(1, 2)  # (B, 4, L)
        klen = self.weight.shape[-1]
        score = F.conv1d(F.pad(x, (0, klen - 1)), self.weight)  # (B, T, L): motif starting at each base
        # A full match scores len(motif); anything less is <= len - 1, so relu(score - (len - 1)) is 0/1.
        hits = F.relu(score - self.threshold[None, :, None])
        b = x.shape[0]
        per_bin = hits.reshape(b, self.n_tracks, -1, self.bin_size).sum(-1)  # (B, T, n_full)
        per_bin = per_bin[:, :, self.trim: self.trim + self.n_bins]
        per_bin = per_bin.index_select(2, self.bin_index).index_select(1, self.track_index)
        return per_bin.transpose(1, 2).contiguous()


# ---------------------------------------------------------------------------------------------------
# Loading


def parse_hparams(value: str | dict | None) -> dict[str, Any]:
    """Hyper-parameters from a dict, a JSON string or a JSON file path (None -> {})."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return dict(value)
    text = value
    if not value.lstrip().startswith("{"):
        p = Path(value)
        if not p.is_file():
            raise SeqgxError(f"hyper-parameters '{value}' are neither JSON nor an existing JSON file; "
                             f"pass e.g. '{{\"dim\": 48, \"depth\": 1}}'")
        text = p.read_text()
    try:
        out = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeqgxError(f"hyper-parameters '{value[:60]}' are not valid JSON ({exc.msg}); "
                         f"fix the JSON") from None
    if not isinstance(out, dict):
        raise SeqgxError("hyper-parameters must be a JSON object of name: value")
    return out


def _enformer_from_hparams(hparams: dict[str, Any]) -> nn.Module:
    from enformer_pytorch import Enformer

    try:
        return Enformer.from_hparams(**hparams)
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise SeqgxError(f"Enformer hyper-parameters {json.dumps(hparams)} are invalid ({exc}); "
                         f"fix --hparams") from None


def _load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(path))
        else:
            sd = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign files raise many types
        raise SeqgxError(f"model file '{path}' could not be read as a state dict ({type(exc).__name__}); "
                         f"pass a torch .pt/.pth or .safetensors state dict") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise SeqgxError(f"model file '{path}' does not hold a state dict; save model.state_dict()")
    return {re.sub(r"^(module|enformer)\.", "", k): v for k, v in sd.items()}


def _load_strict_modulo_aliases(model: nn.Module, sd: dict[str, torch.Tensor]) -> None:
    """load_state_dict, strict except for keys whose tensor is shared with a key that is present.

    Enformer registers each layer twice (``_trunk.*`` and ``stem.*`` etc.); safetensors' save_model
    keeps one name per shared tensor, so the other name is legitimately missing.
    """
    own = model.state_dict(keep_vars=True)
    groups: dict[int, list[str]] = {}
    for k, v in own.items():
        groups.setdefault(v.data_ptr() if v.numel() else id(v), []).append(k)
    alias = {k: g for g in groups.values() for k in g}
    missing = [k for k in own if k not in sd and not any(a in sd for a in alias[k])]
    unexpected = [k for k in sd if k not in own]
    if missing or unexpected:
        raise RuntimeError(f"state dict mismatch\nmissing keys {missing[:3]}, "
                           f"unexpected keys {unexpected[:3]}")
    model.load_state_dict(sd, strict=False)


def _weights_sha256_dir(path: Path) -> str:
    files = sorted(f for f in path.iterdir() if f.suffix in STATE_DICT_SUFFIXES and f.is_file())
    if not files:
        raise SeqgxError(f"model directory '{path}' has no weights file (*.safetensors, *.bin); "
                         f"pass a Hugging Face-format Enformer directory")
    if len(files) == 1:
        return sha256_file(files[0])
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.name}:{sha256_file(f)}\n".encode())
    return h.hexdigest()


def load_enformer(source: str, hparams: dict[str, Any] | None = None, seed: int = 0
                  ) -> tuple[nn.Module, dict[str, Any]]:
    """Load Enformer (eval mode) and its identity record.

    ``source``: a local Hugging Face-format directory (config.json + weights); a state-dict file
    (.pt/.pth/.safetensors/.bin) built with ``hparams`` (defaults: full-size Enformer); ``random``
    (weights drawn with ``seed``, for tests and benchmarks); or a hub id such as
    ``EleutherAI/enformer-official-rough`` (downloaded when online).
    """
    from enformer_pytorch import Enformer

    hparams = dict(hparams or {})
    use_tf_gamma = hparams.pop("use_tf_gamma", None)
    p = Path(source)
    ident: dict[str, Any] = {"kind": "enformer", "source": source}
    if source == "random":
        torch.manual_seed(seed)
        model = _enformer_from_hparams(hparams)
        ident.update(seed=seed, hparams=hparams)
    elif p.is_dir():
        if not (p / "config.json").is_file():
            raise SeqgxError(f"model directory '{p}' has no config.json; pass a Hugging Face-format "
                             f"Enformer directory (config.json + model.safetensors)")
        ident["sha256"] = _weights_sha256_dir(p)
        try:
            model = Enformer.from_pretrained(str(p), **hparams)
        except (OSError, ValueError) as exc:
            raise SeqgxError(f"model directory '{p}' could not be loaded ({str(exc).splitlines()[0]}); "
                             f"check its config.json and weights") from None
        if use_tf_gamma is None and p.name.endswith("enformer-official-rough"):
            use_tf_gamma = True
    elif p.suffix in STATE_DICT_SUFFIXES or p.exists():
        if not p.is_file():
            raise SeqgxError(f"model file '{p}' does not exist; pass an existing state-dict file, "
                             f"a model directory, an .onnx file or 'oracle'")
        ident["sha256"] = sha256_file(p)
        sd = _load_state_dict_file(p)
        model = _enformer_from_hparams(hparams)
        try:
            _load_strict_modulo_aliases(model, sd)
        except RuntimeError as exc:
            first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
            raise SeqgxError(f"model file '{p}' does not fit Enformer with hyper-parameters "
                             f"{json.dumps(hparams)} ({first[:160]}); pass the matching --hparams") from None
        ident["hparams"] = hparams
    elif is_hub_id(source):
        local = hub_download(source)
        model = Enformer.from_pretrained(str(local), **hparams)
        ident["sha256"] = _weights_sha256_dir(local)
        if use_tf_gamma is None and source == OFFICIAL_HUB_ID:
            use_tf_gamma = True  # as enformer_pytorch.from_pretrained does for the official weights
    else:
        raise SeqgxError(f"model '{source}' does not exist; pass an .onnx file, a state-dict file, "
                         f"a Hugging Face directory or hub id, 'random' or 'oracle'")
    if use_tf_gamma is not None:
        from enformer_pytorch.modeling_enformer import Attention

        for m in model.modules():
            if isinstance(m, Attention):
                m.use_tf_gamma = bool(use_tf_gamma)
        ident["use_tf_gamma"] = bool(use_tf_gamma)
    if "sha256" not in ident:
        ident["sha256"] = state_dict_sha256(model)
    ident["config"] = {k: getattr(model.config, k) for k in
                       ("dim", "depth", "heads", "num_downsamples", "target_length", "output_heads")}
    return model.eval(), ident


def is_hub_id(source: str) -> bool:
    """Whether ``source`` names a Hugging Face hub model (owner/name) rather than a local path."""
    return bool(re.fullmatch(r"[\w.-]+/[\w.-]+", source)) and not Path(source).exists()


def hub_download(repo_id: str) -> Path:
    """The local snapshot folder of hub model ``repo_id`` (config and weights), downloaded if needed."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors", "*.bin"]))
    except Exception as exc:  # network errors come in many types; all mean the same to the user
        raise SeqgxError(f"could not download model '{repo_id}' from the Hugging Face hub "
                         f"({type(exc).__name__}: offline?); download it where you are online "
                         f"('huggingface-cli download {repo_id} --local-dir DIR') and pass --model DIR"
                         ) from None


def load_model(source: str, seq_len: int, hparams: dict[str, Any] | str | None = None, seed: int = 0,
               head: str = "human", track_names: list[str] | None = None) -> LoadedModel:
    """Load a torch model (Enformer or ``oracle``) fixed to ``seq_len`` bp, with all bins and tracks."""
    hp = parse_hparams(hparams)
    if source == "oracle":
        unknown = sorted(set(hp) - {"bin_size"})
        if unknown:
            raise SeqgxError(f"the oracle model has no hyper-parameter '{unknown[0]}'; it takes only "
                             f"'bin_size'")
        module: nn.Module = OracleModel(seq_len, **hp).eval()
        names = list(OracleModel.TRACK_NAMES)
        ident = {"kind": "oracle", "source": "oracle", "sha256": state_dict_sha256(module),
                 "note": "test/demo model with closed-form outputs, not biology"}
    else:
        if source.endswith(".onnx"):
            raise SeqgxError(f"model '{source}' is an ONNX file; use it with the onnx backend "
                             f"(--backend onnx), not torch")
        enformer, ident = load_enformer(source, hp, seed=seed)
        module = EnformerFixed(enformer, seq_len, head=head).eval()
        names = track_names or default_track_names(module.n_tracks)
    if track_names is not None and len(track_names) != module.n_tracks:
        raise SeqgxError(f"track names list has {len(track_names)} names but model '{source}' has "
                         f"{module.n_tracks} tracks; pass the matching track names file")
    ident["seq_len"] = int(seq_len)
    return LoadedModel(module, int(seq_len), module.n_bins, names, ident)


def centre_bins(n_bins: int, k: int = 3) -> list[int]:
    """The ``k`` bins around the centre: for 896 bins and k=3, bins 447, 448, 449 (TSS in 448)."""
    start = n_bins // 2 - (k - 1) // 2
    return list(range(max(start, 0), min(start + k, n_bins)))


# ---------------------------------------------------------------------------------------------------
# ONNX export


@dataclass
class ExportReport:
    path: str
    precision: str
    max_abs_diff: float
    max_rel_diff: float
    atol: float
    rtol: float
    output_shape: tuple[int, ...]
    sha256: str


class _CastIO(nn.Module):
    """Keeps the float32 interface of a half-precision model: cast in, compute, cast out."""

    def __init__(self, inner: nn.Module, dtype: torch.dtype):
        super().__init__()
        self.inner, self.dtype = inner, dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.to(self.dtype)).float()


DEFAULT_TOLERANCE = {"fp32": (1e-4, 1e-3), "fp16": (5e-2, 5e-2)}  # (atol, rtol)


def export_onnx(model: LoadedModel, out: str | os.PathLike, *, precision: str = "fp32",
                bins: Sequence[int] | None = None, tracks: Sequence[int] | None = None,
                atol: float | None = None, rtol: float | None = None, n_check: int = 2,
                seed: int = 0, opset: int = 17) -> ExportReport:
    """Export ``model`` (optionally only ``bins`` x ``tracks``) to ONNX, verified before writing.

    The graph takes float32 ``(batch, seq_len, 4)`` with a dynamic batch and returns float32
    ``(batch, bins, tracks)``. Before the file is written (atomically), ONNX Runtime (CPU) runs it
    on ``n_check`` random one-hot sequences and the result must match PyTorch (the same precision)
    within ``|onnx - torch| <= atol + rtol * |torch|`` elementwise; otherwise a SeqgxError is raised
    and nothing is written.
    """
    import onnx
    import onnxruntime as ort

    if precision not in DEFAULT_TOLERANCE:
        raise SeqgxError(f"precision '{precision}' is not supported for export; use fp32 or fp16")
    d_atol, d_rtol = DEFAULT_TOLERANCE[precision]
    atol = d_atol if atol is None else atol
    rtol = d_rtol if rtol is None else rtol
    sub = model.select(bins, tracks)
    module: nn.Module = copy.deepcopy(sub).eval()
    if precision == "fp16":
        module = _CastIO(module.half(), torch.float16).eval()
    gen = np.random.default_rng(seed)
    tokens = gen.integers(0, 4, size=(n_check, model.seq_len))
    check = torch.from_numpy(np.eye(4, dtype=np.float32)[tokens])
    with torch.no_grad():
        expected = module(check).numpy()
    out = Path(out)
    with atomic_output(out) as tmp:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation/constant-folding notes
            torch.onnx.export(module, (check[:1],), str(tmp), dynamo=False, opset_version=opset,
                              input_names=[ONNX_INPUT], output_names=[ONNX_OUTPUT],
                              dynamic_axes={ONNX_INPUT: {0: "batch"}, ONNX_OUTPUT: {0: "batch"}})
        proto = onnx.load(str(tmp))
        meta = {
            "kind": model.identity.get("kind", ""), "source": model.identity.get("source", ""),
            "source_sha256": model.identity.get("sha256", ""), "seq_len": model.seq_len,
            "n_bins": model.n_bins, "bins": sub.bins, "tracks": sub.tracks,
            "track_names": model.track_names, "precision": precision, "atol": atol, "rtol": rtol,
            "identity": model.identity,
        }
        for k, v in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = META_PREFIX + k, v if isinstance(v, str) else json.dumps(v)
        onnx.save(proto, str(tmp))
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads := configured_threads():  # the step's --threads; else ONNX Runtime's default
            opts.intra_op_num_threads = threads
        sess = ort.InferenceSession(str(tmp), opts, providers=["CPUExecutionProvider"])
        got = sess.run(None, {ONNX_INPUT: check.numpy()})[0]
        if got.shape != expected.shape:
            raise SeqgxError(f"exported ONNX output shape {got.shape} differs from PyTorch's "
                             f"{expected.shape}; not writing '{out}'")
        diff = np.abs(got.astype(np.float64) - expected)
        excess = diff - (atol + rtol * np.abs(expected))
        max_abs = float(diff.max())
        max_rel = float((diff / np.maximum(np.abs(expected), 1e-12)).max())
        if not np.all(np.isfinite(got)) or excess.max() > 0:
            raise SeqgxError(f"ONNX graph disagrees with PyTorch (max |diff| {max_abs:.3g}, tolerance "
                             f"atol {atol:g} + rtol {rtol:g}); not writing '{out}'; report this model")
    log.info("exported %s (%s): max |onnx - torch| %.3g, max rel %.3g", out, precision, max_abs, max_rel)
    return ExportReport(str(out), precision, max_abs, max_rel, atol, rtol, tuple(got.shape), sha256_file(out))


def onnx_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """seqgx metadata stored in an exported ONNX file ({} for a foreign model)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    meta: dict[str, Any] = {}
    for entry in proto.metadata_props:
        if entry.key.startswith(META_PREFIX):
            key = entry.key[len(META_PREFIX):]
            try:
                meta[key] = json.loads(entry.value)
            except json.JSONDecodeError:
                meta[key] = entry.value
    return meta

