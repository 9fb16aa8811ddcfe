"""LSC17 / pLSC6 against hand-computed values from the published weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relapse_model.errors import InputError
from relapse_model.scores import call_high, read_expression, stemness_score

# Copied by hand from ../shared/mission/published-figures.md (not from the package), so a typo
# in relapse_model/scores/weights.py fails this test.
LSC17_PUBLISHED = {
    "DNMT3B": 0.0874, "ZBTB46": -0.0347, "NYNRIN": 0.00865, "ARHGAP22": -0.0138,
    "LAPTM4B": 0.00582, "MMRN1": 0.0258, "DPYSL3": 0.0284, "KIAA0125": 0.0196, "CDK6": -0.0704,
    "CPXM1": -0.0258, "SOCS2": 0.0271, "SMIM24": -0.0226, "EMP1": 0.0146, "NGFRAP1": 0.0465,
    "CD34": 0.0338, "AKR1C3": -0.0402, "GPR56": 0.0501,
}


def test_lsc17_of_unit_expression_is_the_sum_of_weights():
    expr = pd.DataFrame([np.ones(17)], columns=list(LSC17_PUBLISHED), index=["s1"])
    # 0.0874 - 0.0347 + 0.00865 - 0.0138 + 0.00582 + 0.0258 + 0.0284 + 0.0196 - 0.0704
    # - 0.0258 + 0.0271 - 0.0226 + 0.0146 + 0.0465 + 0.0338 - 0.0402 + 0.0501 = 0.14027
    assert stemness_score(expr, "lsc17")["s1"] == pytest.approx(0.14027, abs=1e-12)


@pytest.mark.parametrize("gene", sorted(LSC17_PUBLISHED))
def test_each_lsc17_weight_matches_the_publication(gene):
    expr = pd.DataFrame([[1.0 if g == gene else 0.0 for g in LSC17_PUBLISHED]],
                        columns=list(LSC17_PUBLISHED), index=["s1"])
    assert stemness_score(expr, "lsc17")["s1"] == pytest.approx(LSC17_PUBLISHED[gene], abs=1e-15)


def test_plsc6_hand_computed_example():
    # 0.189*2 + 0.054*3 + 0.0171*4 + 0.141*5 + 0.109*6 + 0.0516*7 = 2.3286
    expr = pd.DataFrame({"DNMT3B": [2.0], "GPR56": [3.0], "CD34": [4.0], "SOCS2": [5.0],
                         "SPINK2": [6.0], "KIAA0125": [7.0]}, index=["s1"])
    assert stemness_score(expr, "plsc6")["s1"] == pytest.approx(2.3286, abs=1e-12)


def _expression(n_samples: int = 4, seed: int = 3) -> pd.DataFrame:
    genes = sorted(set(LSC17_PUBLISHED) | {"SPINK2", "ACTB", "GAPDH"})
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(7.0, 1.5, (n_samples, len(genes))).round(4),
                        index=[f"s{i}" for i in range(n_samples)], columns=genes)


def test_both_orientations_give_the_same_scores(tmp_path):
    expr = _expression()
    expr.T.rename_axis("gene").to_csv(tmp_path / "rows.csv")
    expr.rename_axis("sample").to_csv(tmp_path / "cols.tsv", sep="\t")
    a = stemness_score(read_expression(tmp_path / "rows.csv"), "lsc17")
    b = stemness_score(read_expression(tmp_path / "cols.tsv"), "lsc17")
    pd.testing.assert_series_equal(a, b)
    direct = expr[list(LSC17_PUBLISHED)].to_numpy() @ np.array(list(LSC17_PUBLISHED.values()))
    np.testing.assert_allclose(a.to_numpy(), direct, rtol=0, atol=1e-12)


def test_current_and_old_symbols_give_the_same_score():
    expr = _expression()
    renamed = expr.rename(columns={"KIAA0125": "FAM30A", "NGFRAP1": "BEX3", "GPR56": "ADGRG1"})
    pd.testing.assert_series_equal(stemness_score(expr, "lsc17"), stemness_score(renamed, "lsc17"))


def test_gene_given_under_both_symbols_is_an_error(tmp_path):
    expr = _expression()
    expr["FAM30A"] = expr["KIAA0125"]
    expr.rename_axis("sample").to_csv(tmp_path / "e.csv")
    with pytest.raises(InputError, match="FAM30A"):
        read_expression(tmp_path / "e.csv")


def test_non_numeric_value_of_a_score_gene_is_named(tmp_path):
    expr = _expression().astype(object)
    expr.loc["s2", "CD34"] = "high"
    expr.loc["s1", "ACTB"] = "n.d."  # not a score gene: ignored
    expr.rename_axis("sample").to_csv(tmp_path / "e.csv")
    with pytest.raises(InputError) as info:
        read_expression(tmp_path / "e.csv")
    assert str(info.value) == f"{tmp_path / 'e.csv'}, row 4, column 'CD34': 'high' is not a number (log2 expression)"


def test_table_without_score_genes(tmp_path):
    pd.DataFrame({"gene": ["ACTB"], "s1": [1.0]}).to_csv(tmp_path / "e.csv", index=False)
    with pytest.raises(InputError, match="no gene of LSC17 or pLSC6"):
        read_expression(tmp_path / "e.csv")


def test_high_low_by_median_and_by_fixed_reference():
    scores = pd.Series([0.1, 0.5, 0.9, np.nan, 0.3], name="lsc17")
    assert call_high(scores).tolist()[:3] == [False, True, True]  # median of the 4 known is 0.4
    assert call_high(scores).isna().tolist() == [False, False, False, True, False]
    assert call_high(scores, reference=0.6).tolist()[:3] == [False, False, True]


def test_unknown_score_name():
    with pytest.raises(ValueError, match="lsc17, plsc6"):
        stemness_score(_expression(), "lsc99")
