"""Published weights of the leukaemia-stemness scores (../shared/mission/published-figures.md).

- LSC17: Ng et al., Nature 2016;540:433 (weights agree across three public implementations).
- pLSC6: Elsayed et al., Leukemia 2020;34:735 (weights from public code citing the paper).
Both are weighted sums of log2-normalised expression.
"""

from __future__ import annotations

LSC17_WEIGHTS: dict[str, float] = {
    "DNMT3B": 0.0874, "ZBTB46": -0.0347, "NYNRIN": 0.00865, "ARHGAP22": -0.0138,
    "LAPTM4B": 0.00582, "MMRN1": 0.0258, "DPYSL3": 0.0284, "FAM30A": 0.0196, "CDK6": -0.0704,
    "CPXM1": -0.0258, "SOCS2": 0.0271, "SMIM24": -0.0226, "EMP1": 0.0146, "BEX3": 0.0465,
    "CD34": 0.0338, "AKR1C3": -0.0402, "ADGRG1": 0.0501,
}

PLSC6_WEIGHTS: dict[str, float] = {
    "DNMT3B": 0.189, "ADGRG1": 0.054, "CD34": 0.0171, "SOCS2": 0.141, "SPINK2": 0.109,
    "FAM30A": 0.0516,
}

SCORES: dict[str, dict[str, float]] = {"lsc17": LSC17_WEIGHTS, "plsc6": PLSC6_WEIGHTS}

#: Old symbols still common in expression tables, mapped to the current HGNC symbol used above.
GENE_ALIASES: dict[str, str] = {"KIAA0125": "FAM30A", "NGFRAP1": "BEX3", "GPR56": "ADGRG1"}
