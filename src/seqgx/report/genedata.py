"""The compact per-gene data the report's gene pages plot, written by `seqgx stats` beside its tables.

`seqgx stats` has every input of a gene in memory (haplotypes, predictions, ISM, expression);
:func:`gene_record` keeps what the gene pages plot: per person the prediction of every readout, the
observation and the main driver's dosage; per SNV its position, allele frequency, carrier fraction,
ISM and gradient per readout, eQTL slope and p; the forward-selection curve per readout; and the counts
the run's QC shows (records skipped by personalize, distinct haplotypes). :func:`write_genedata` stores a
batch's records as ``<batch>.genedata.npz``; :class:`GeneDataStore` reads those files back, one gene at a
time, so the report never opens a haplotypes file. Layout in ``docs/formats.md`` ("seqgx stats").

The records and their writer are the stats step's (:mod:`seqgx.analysis.genedata`, imported here under
their former names); this module reads them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqgx.analysis.genedata import ATTR as ATTR
from seqgx.analysis.genedata import FORMAT_VERSION as FORMAT_VERSION
from seqgx.analysis.genedata import SUFFIX as SUFFIX
from seqgx.analysis.genedata import GeneDataBatch as GeneDataBatch
from seqgx.analysis.genedata import _json as _json
from seqgx.analysis.genedata import _union as _union
from seqgx.analysis.genedata import forward_curve as forward_curve
from seqgx.analysis.genedata import gene_record as gene_record
from seqgx.analysis.genedata import write_genedata as write_genedata
from seqgx.errors import SeqgxError


@dataclass
class GeneData:
    """One gene's report data read back (people: P, SNVs: V, readouts: R)."""

    gene_id: str
    gene_name: str
    chrom: str
    strand: str
    tss: int
    window_start: int
    window_length: int
    readouts: list[str]
    samples: np.ndarray  # (P,) VCF sample ids
    observed: np.ndarray  # (P,)
    prediction: np.ndarray  # (P, R)
    main_dosage: np.ndarray  # (P, R) int8, -1: no main driver
    snvs: pd.DataFrame  # pos, ref, alt, allele_frequency, carrier_fraction, eqtl_slope, eqtl_p, distance
    ism: np.ndarray  # (V, R)
    gradient: np.ndarray  # (V, R)
    forward_frac: np.ndarray  # (V, R): row i = after the first i + 1 SNVs in |ISM| order

    def readout_index(self, readout: str) -> int | None:
        return self.readouts.index(readout) if readout in self.readouts else None


class GeneDataStore:
    """Every ``<batch>.genedata.npz`` of a run: which gene is where, the per-gene QC figures of all genes,
    and one gene's :class:`GeneData` on demand (only that file's arrays are decompressed). A gene in
    several files is read from the last (a two-phase run's attribution/stats after stats)."""

    def __init__(self, paths: Sequence[str | Path]):
        self.paths = [Path(p) for p in paths]
        self.where: dict[str, tuple[int, int]] = {}
        self._open: dict[int, Any] = {}
        rows: list[pd.DataFrame] = []
        for i in range(len(self.paths)):
            z = self._load(i)
            ids = [str(x) for x in z["gene_id"]]
            for g, gid in enumerate(ids):
                self.where[gid] = (i, g)  # a later file wins (phase 2's data, with ISM, after phase 1's)
            t = pd.DataFrame({"gene_id": ids, "window_length": z["window_length"],
                              "dedup_ratio": z["dedup_ratio"],
                              "n_distinct_haplotypes": z["n_distinct_haplotypes"]})
            counts = pd.DataFrame(z["count_values"], columns=[str(c) for c in z["count_names"]])
            ref = pd.DataFrame(z["reference"], columns=[f"reference:{r}" for r in z["readouts"]])
            rows.append(pd.concat([t, counts, ref], axis=1))
            self._open.pop(i, None)  # keep at most the files a page needs open
        #: one row per gene: window_length, dedup_ratio, n_distinct_haplotypes, personalize counts,
        #: ``reference:<readout>``
        self.genes = (pd.concat(rows, ignore_index=True).drop_duplicates("gene_id", keep="last")
                      if rows else pd.DataFrame(columns=["gene_id"]))

    def _load(self, i: int) -> Any:
        if i not in self._open:
            try:
                z = np.load(self.paths[i], allow_pickle=False)
                version = int(z["format_version"])
                if version > FORMAT_VERSION:
                    raise SeqgxError(f"gene data '{self.paths[i]}' has format version {version}, newer than "
                                     f"this seqgx reads ({FORMAT_VERSION}); update seqgx")
            except (OSError, ValueError, KeyError) as exc:
                raise SeqgxError(f"gene data '{self.paths[i]}' cannot be read ({exc}); re-run 'seqgx stats' "
                                 f"for its batch") from None
            self._open = {i: z}
        return self._open[i]

    def __contains__(self, gene_id: object) -> bool:
        return gene_id in self.where

    def get(self, gene_id: str) -> GeneData | None:
        if gene_id not in self.where:
            return None
        i, g = self.where[gene_id]
        z = self._load(i)
        so, vo = z["sample_offsets"], z["variant_offsets"]
        s0, s1, v0, v1 = int(so[g]), int(so[g + 1]), int(vo[g]), int(vo[g + 1])
        tss, strand = int(z["tss"][g]), str(z["strand"][g])
        pos = z["pos"][v0:v1]
        snvs = pd.DataFrame({"pos": pos, "ref": z["ref"][v0:v1], "alt": z["alt"][v0:v1],
                             "allele_frequency": z["allele_frequency"][v0:v1],
                             "carrier_fraction": z["carrier_fraction"][v0:v1],
                             "eqtl_slope": z["eqtl_slope"][v0:v1], "eqtl_p": z["eqtl_p"][v0:v1],
                             "distance_to_tss": (tss - pos) if strand == "-" else (pos - tss)})
        return GeneData(gene_id=gene_id, gene_name=str(z["gene_name"][g]), chrom=str(z["chrom"][g]),
                        strand=strand, tss=tss, window_start=int(z["window_start"][g]),
                        window_length=int(z["window_length"][g]),
                        readouts=[str(r) for r in z["readouts"]],
                        samples=z["samples"][z["sample_index"][s0:s1]], observed=z["observed"][s0:s1],
                        prediction=z["prediction"][s0:s1], main_dosage=z["main_dosage"][s0:s1],
                        snvs=snvs, ism=z["ism"][v0:v1], gradient=z["gradient"][v0:v1],
                        forward_frac=z["forward_frac"][v0:v1])
