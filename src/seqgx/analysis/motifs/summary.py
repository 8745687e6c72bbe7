"""The per-readout summary of the motif analysis (``motif_summary.json``): main drivers in a seqlet, by
support and by the sign of R, against chance, and the number of motifs enriched."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from seqgx.analysis.motifs.defaults import ENRICHMENT_ALPHA
from seqgx.analysis.motifs.tables import _tristate


def _fraction(x: pd.Series) -> float:
    x = _tristate(x).dropna()
    return float(x.mean()) if len(x) else math.nan


def motif_summary(driver_motifs: pd.DataFrame, snvs: pd.DataFrame,
                  enrichment_table: pd.DataFrame | None = None,
                  alpha: float = ENRICHMENT_ALPHA) -> dict[str, dict[str, Any]]:
    """Per readout: fraction of main drivers inside a seqlet (drivers outside the TSS track, NA, left
    out), split by support and by the sign of the gene's R; the same fraction for every SNV within the
    TSS track of the genes with a main driver and of all genes (chance); motifs enriched at ``alpha``."""
    out: dict[str, dict[str, Any]] = {}
    readouts = list(dict.fromkeys([*driver_motifs.get("readout", pd.Series(dtype=str)).astype(str),
                                   *snvs.get("readout", pd.Series(dtype=str)).astype(str)]))
    for r in readouts:
        d = driver_motifs[driver_motifs["readout"].astype(str) == r]
        main = d[_tristate(d["is_main"]) == 1.0]
        sup = _tristate(main["supported"])
        rr = pd.to_numeric(main.get("gene_r", pd.Series(np.nan, index=main.index)), errors="coerce")
        s = snvs[(snvs["readout"].astype(str) == r) & (_tristate(snvs["in_tss_window"]) == 1.0)]
        s_main = s[s["gene_id"].isin(set(main["gene_id"]))]
        fig: dict[str, Any] = {
            "n_main_drivers": int(len(main)),
            "n_main_drivers_in_tss_window": int(_tristate(main["in_seqlet"]).notna().sum()),
            "fraction_main_drivers_in_seqlet": _fraction(main["in_seqlet"]),
            "fraction_in_seqlet_supported": _fraction(main.loc[sup == 1.0, "in_seqlet"]),
            "fraction_in_seqlet_unsupported": _fraction(main.loc[sup == 0.0, "in_seqlet"]),
            "fraction_in_seqlet_positive_r": _fraction(main.loc[rr > 0, "in_seqlet"]),
            "fraction_in_seqlet_negative_r": _fraction(main.loc[rr < 0, "in_seqlet"]),
            "fraction_snvs_in_seqlet": _fraction(s_main["in_seqlet"]),
            "fraction_snvs_in_seqlet_all_genes": _fraction(s["in_seqlet"]),
            "n_snvs_in_tss_window": int(len(s_main)),
        }
        if enrichment_table is not None and len(enrichment_table):
            e = enrichment_table[enrichment_table["readout"].astype(str) == r]
            enr = _tristate(e["enriched"]) == 1.0
            fig["n_enriched_known"] = int((enr & (e["analysis"] == "known")).sum())
            fig["n_enriched_de_novo"] = int((enr & (e["analysis"] == "de_novo")).sum())
        else:
            fig["n_enriched_known"] = fig["n_enriched_de_novo"] = 0
        out[r] = fig
    return out
