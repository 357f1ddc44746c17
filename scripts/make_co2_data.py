"""Write rntk/datasets/data/co2/co2_weekly.csv from statsmodels' co2 dataset.

The Mauna Loa weekly CO2 record 1958-2001 (Keeling & Whorf, SIO; public
domain, as statsmodels ships it), 2,284 weeks, missing weeks left empty. The
project ships the CSV so that the co2 experiments need no statsmodels at run
time; rerun this script to regenerate it (the output is byte-for-byte stable).
"""
from pathlib import Path

from statsmodels.datasets import co2

OUT = Path(__file__).resolve().parent.parent / "rntk" / "datasets" / "data" / "co2" / "co2_weekly.csv"


def main():
    d = co2.load_pandas().data["co2"]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Mauna Loa weekly CO2 (ppm), Keeling & Whorf (SIO), public domain; from statsmodels.datasets.co2",
             "week_ending,co2_ppm"]
    lines += [f"{t.date().isoformat()},{'' if v != v else repr(float(v))}" for t, v in d.items()]
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT} ({len(d)} weeks, {int(d.isna().sum())} missing)")


if __name__ == "__main__":
    main()
