"""Write examples/broken.csv, the tutorial's example of a file with bad cells: the first 20 patients
of the bundled COG-like cohort with two cells spoilt (row 14: died = "maybe"; row 17: age_years
= "ten"). Run from the project root: python examples/make_broken.py"""

from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def main() -> Path:
    frame = pd.read_csv(ROOT / "cohorts" / "cog_like.csv", dtype=str, keep_default_na=False).head(20)
    frame.loc[12, "died"] = "maybe"        # line 14 of the file: the header is line 1
    frame.loc[15, "age_years"] = "ten"     # line 17
    path = ROOT / "examples" / "broken.csv"
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


if __name__ == "__main__":
    print(main())
