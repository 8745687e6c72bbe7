"""The tissues samplesheet: one expression matrix (and optional covariates, readouts) per tissue.

nf-core style CSV with the header ``tissue,expression,covariates,readouts`` (covariates and readouts may
be empty or absent), one row per tissue; rows are validated against the JSON schema shipped as
``seqgx/data/schema_tissues.json`` (the one nf-schema reads too). Relative paths are relative to the
sheet's folder, as in the VCF samplesheet. A run without a sheet has one tissue, :data:`DEFAULT_TISSUE`.

``readouts`` is a ``;``-separated list of track indices, exact track names or fine-tuned weights CSVs
(``.csv``); empty means the run's own readouts. :func:`resolve_readouts` turns them into readout ids as
``seqgx predict`` names them (``track:<index>``, ``finetuned:<weights file stem>``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from seqgx.errors import SeqgxError

DEFAULT_TISSUE = "default"
COLUMNS = ["tissue", "expression", "covariates", "readouts"]
_HEADER_FIX = "write a comma-separated header 'tissue,expression,covariates,readouts' then one row per tissue"
_PATH_FIX = "fix the path (relative paths are relative to the sheet's folder)"


@dataclass
class Tissue:
    """One tissue of a run: its expression input, optional covariates and readout items."""

    name: str
    expression: Path
    covariates: Path | None = None
    readouts: list[str] = field(default_factory=list)  # raw ';'-separated items; [] = run's readouts
    # Where the tissue came from, for messages and for resolving relative weights paths.
    sheet: Path | None = None
    line: int | None = None
    readouts_text: str = ""  # the cell as written: track names may themselves contain ';'

    @property
    def where(self) -> str:
        if self.sheet is None:
            return f"tissue '{self.name}'"
        return f"tissues samplesheet '{self.sheet}' line {self.line} (tissue '{self.name}')"


@dataclass(frozen=True)
class ReadoutSpec:
    """A readout a tissue is assessed on: one model track, or a fine-tuned weights file."""

    kind: Literal["track", "finetuned"]
    track: int | None = None
    weights: Path | None = None
    name: str | None = None  # an explicit id (a default readout given as an id), else derived

    @property
    def id(self) -> str:
        if self.name:
            return self.name
        if self.kind == "track":
            return f"track:{self.track}"
        return f"finetuned:{self.weights.stem}" if self.weights else "finetuned"


@cache
def tissues_schema() -> dict:
    """The JSON schema of the sheet (package data), as nf-schema reads it."""
    return json.loads(resources.files("seqgx").joinpath("data/schema_tissues.json").read_text())


def default_tissue(expression: str | Path, covariates: str | Path | None = None,
                   readouts: Sequence[str] = ()) -> Tissue:
    """The one tissue of a run without a sheet (paths as given, relative to where the run starts)."""
    items = [str(r).strip() for r in readouts if str(r).strip()]
    return Tissue(name=DEFAULT_TISSUE, expression=Path(expression),
                  covariates=Path(covariates) if covariates else None, readouts=items,
                  readouts_text=";".join(items))


def read_tissues(path: str | Path, check_files: bool = True,
                 staged: str | Path | None = None) -> list[Tissue]:
    """The tissues of a samplesheet, in sheet order; one-line SeqgxError naming sheet, line and fix.

    ``check_files``: the files it names must exist (off in a Nextflow task, which does not see them);
    ``staged``: a copy of the sheet to read (a Nextflow task's), ``path`` still naming it and its folder.
    """
    from jsonschema import Draft202012Validator  # only runs with a sheet need it

    sheet = Path(path)
    source = Path(staged) if staged is not None else sheet
    if not source.is_file():
        raise SeqgxError(f"tissues samplesheet '{sheet}' does not exist; {_HEADER_FIX}")
    try:
        with open(source, newline="", encoding="utf-8-sig") as fh:  # utf-8-sig: spreadsheet BOMs
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            reader.fieldnames = header
            rows = [(reader.line_num, row) for row in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SeqgxError(f"tissues samplesheet '{sheet}' is not a CSV text file ({exc}); "
                         f"{_HEADER_FIX}") from None
    where0 = f"tissues samplesheet '{sheet}' line 1"
    if len(header) == 1 and "\t" in header[0]:
        raise SeqgxError(f"{where0}: the sheet is tab-separated, not a CSV; {_HEADER_FIX}")
    missing = [c for c in ("tissue", "expression") if c not in header]
    if missing:
        raise SeqgxError(f"{where0}: the header lacks column {', '.join(repr(m) for m in missing)} (found "
                         f"{', '.join(header) or 'nothing'}); {_HEADER_FIX}")
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:  # a misspelt 'covariates' would otherwise be dropped without a word
        raise SeqgxError(f"{where0}: unknown column '{unknown[0]}'; use only {', '.join(COLUMNS)}")
    if not rows:
        raise SeqgxError(f"tissues samplesheet '{sheet}' has no rows; add one row per tissue under the "
                         f"header")

    schema = tissues_schema()
    validator = Draft202012Validator(schema["items"])  # nf-schema-only keywords are ignored
    tissues: list[Tissue] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        where = f"tissues samplesheet '{sheet}' line {line}"
        if None in row:  # csv puts fields beyond the header under None
            raise SeqgxError(f"{where}: more fields than the header has columns; quote values that "
                             f"contain commas or fix the row")
        # As nf-schema does, an empty cell is an absent value.
        record = {k: v.strip() for k, v in row.items() if v is not None and v.strip()}
        _validate(validator, schema["items"], record, where)
        name = record["tissue"]
        if name in (".", ".."):
            raise SeqgxError(f"{where}: tissue '{name}' is not a folder name; "
                             f"{schema['items']['properties']['tissue']['errorMessage']}")
        # Case-insensitive: 'Liver' and 'liver' would share a folder on macOS.
        if name.lower() in seen:
            raise SeqgxError(f"{where}: tissue '{name}' is listed twice (also line {seen[name.lower()]}); "
                             f"give each tissue one row with a unique name")
        seen[name.lower()] = line
        expression = _sheet_file(sheet.parent, record["expression"], f"{where}: expression", check_files)
        covariates = (_sheet_file(sheet.parent, record["covariates"], f"{where}: covariates", check_files)
                      if "covariates" in record else None)
        text = record.get("readouts", "")
        items = [s.strip() for s in text.split(";") if s.strip()]
        for item in items:
            if item.lower().endswith(".csv"):
                _sheet_file(sheet.parent, item, f"{where}: fine-tuned weights CSV", check_files)
        tissues.append(Tissue(name=name, expression=expression, covariates=covariates, readouts=items,
                              sheet=sheet, line=line, readouts_text=text))
    return tissues


def _validate(validator, schema: dict, record: dict, where: str) -> None:
    """The first schema error of a row as one line, with the schema's errorMessage as the fix."""
    errors = sorted(validator.iter_errors(record), key=lambda e: (e.validator != "required", list(e.path)))
    if not errors:
        return
    err = errors[0]
    if err.validator == "required":
        column = err.message.split("'")[1]
        fix = ("give the tissue's expression file (a path relative to the sheet's folder)"
               if column == "expression" else "name the tissue (letters, digits, '_', '-')")
        raise SeqgxError(f"{where}: the {column} column is empty; {fix}")
    column = str(err.path[0]) if err.path else "?"
    fix = schema["properties"].get(column, {}).get("errorMessage", err.message)
    raise SeqgxError(f"{where}: {column} '{record.get(column, '')}' is not valid; {fix}")


def _sheet_file(folder: Path, value: str, what: str, check: bool = True) -> Path:
    path = folder / value  # an absolute value replaces the sheet's folder
    if check and not path.is_file():
        raise SeqgxError(f"{what} '{path}' does not exist; {_PATH_FIX}")
    return path


def readout_items(tissue: Tissue, track_names: Sequence[str] = ()) -> list[str]:
    """The tissue's readout items as the model steps take them (``--tracks`` values, weights files):
    the cell split on ';' but never inside an exact track name of ``track_names`` (default Enformer's
    human tracks, the names that contain ';')."""
    if not track_names:
        from seqgx.model.models import human_track_names

        track_names = human_track_names()
    return _split_readouts(tissue.readouts_text or ";".join(tissue.readouts), track_names)


def _split_readouts(text: str, track_names: Sequence[str]) -> list[str]:
    """Split on ';' except inside an exact track name (e.g. 4980 'CAGE:brain; adult;')."""
    with_sep = sorted({n for n in track_names if ";" in n}, key=len, reverse=True)
    items: list[str] = []
    rest = text
    while rest.strip(" ;"):
        rest = rest.lstrip(" ;")
        # The longest such name that ends here: at the cell's end, before a ';', or ending in ';'.
        name = next((n for n in with_sep if rest.startswith(n) and
                     (n.endswith(";") or rest[len(n):].lstrip(" ")[:1] in ("", ";"))), None)
        if name is not None:
            items.append(name)
            rest = rest[len(name):]
        else:
            head, _, rest = rest.partition(";")
            items.append(head.strip())
    return items


def resolve_readouts(tissue: Tissue, track_names: Sequence[str], default: Sequence[str]) -> list[ReadoutSpec]:
    """The tissue's readouts as specs; empty readouts -> ``default`` (readout ids such as 'track:4980').

    Each item is a track index or exact track name (-> ``track:<index>``) or a fine-tuned weights
    ``.csv`` (relative to the sheet's folder; -> ``finetuned:<file stem>``). Duplicates are dropped.
    """
    from seqgx.model.readouts import resolve_tracks  # imports torch: only where tracks are resolved

    if not tissue.readouts:
        return list(dict.fromkeys(_spec_from_id(i, track_names, tissue) for i in default))
    text = tissue.readouts_text or ";".join(tissue.readouts)
    specs: list[ReadoutSpec] = []
    by_name = set(track_names)
    for item in _split_readouts(text, track_names):
        if item.lower().endswith(".csv"):
            folder = tissue.sheet.parent if tissue.sheet is not None else Path()
            weights = _sheet_file(folder, item, f"{tissue.where}: fine-tuned weights CSV")
            specs.append(ReadoutSpec("finetuned", weights=weights))
            continue
        parts = [item] if item in by_name else [s.strip() for s in item.split(",") if s.strip()]
        unknown = next((s for s in parts if not s.lstrip("-").isdigit() and s not in by_name), None)
        if unknown is not None:
            raise SeqgxError(f"{tissue.where}: unknown readout '{unknown}' (not a track index, an exact "
                             f"track name of this model or a weights .csv); pass an index or an exact "
                             f"name from the track list")
        try:
            tracks = resolve_tracks([item], track_names)
        except SeqgxError as exc:  # out of range, ambiguous: the same fix, with the row named
            raise SeqgxError(f"{tissue.where}: readout '{item}': {exc}") from None
        specs += [ReadoutSpec("track", track=t) for t in tracks]
    specs = list(dict.fromkeys(specs))
    ids: dict[str, ReadoutSpec] = {}
    for s in specs:
        if s.id in ids:  # two weights files with one stem would share a column
            raise SeqgxError(f"{tissue.where}: fine-tuned weights '{ids[s.id].weights}' and '{s.weights}' "
                             f"have the same name '{s.id}'; rename one file")
        ids[s.id] = s
    return specs


def _spec_from_id(readout_id: str, track_names: Sequence[str], tissue: Tissue) -> ReadoutSpec:
    """A default readout id ('track:<i>', 'finetuned[:<stem>]') as a spec."""
    from seqgx.model.readouts import resolve_tracks

    kind, _, rest = readout_id.partition(":")
    if kind == "track" and rest.isdigit():
        resolve_tracks([rest], track_names)  # in range for this model
        return ReadoutSpec("track", track=int(rest))
    if kind == "finetuned":
        return ReadoutSpec("finetuned", name=readout_id)
    raise SeqgxError(f"{tissue.where}: default readout '{readout_id}' is not 'track:<index>' or "
                     f"'finetuned[:<name>]'; pass readouts as predict names them")
