"""Write the small UCR-layout datasets that ``rntk.datasets`` ships.

Run from the repository root: ``python3 scripts/make_ucr_data.py``. The output
(``rntk/datasets/data/<Name>/<Name>_{TRAIN,TEST}.tsv.gz``) is committed; this
script documents exactly where every value comes from and regenerates it.

* ``Trace`` (real): the UCR archive's Trace set (Roverso 2000; 4 classes,
  100 train / 100 test, length 275), copied value for value from the copy
  that ``tslearn`` ships (``tslearn/.cached_datasets/Trace.npz``). Needs
  tslearn installed; without it this dataset is skipped.
* ``SynthCBF`` (SYNTHETIC): Saito's cylinder-bell-funnel generator (the recipe
  behind UCR's CBF), 3 classes, 30 train / 90 test, length 128, seeded. It is
  *not* UCR's CBF file: only the generator is the same.
* ``SynthVarLenSines`` (SYNTHETIC): variable-length sinusoids in 3 frequency
  classes, lengths 20..60, 24 train / 36 test, trailing-NaN padding as in
  UCR 2018's variable-length sets. Written to exercise that layout.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "rntk" / "datasets" / "data"
SEED = 20260123  # one seed for both synthetic sets


def write_split(name: str, split: str, X: np.ndarray, y: np.ndarray, out: Path = DATA) -> None:
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for row, label in zip(X, y):
        vals = ["NaN" if np.isnan(v) else repr(float(v)) for v in row]
        lines.append("\t".join([str(int(label))] + vals))
    # mtime=0: byte-identical output on every run
    with gzip.GzipFile(folder / f"{name}_{split}.tsv.gz", "wb", mtime=0) as f:
        f.write(("\n".join(lines) + "\n").encode())


def trace(out: Path) -> None:
    try:
        import tslearn
    except ImportError:
        print("tslearn not installed: Trace skipped")
        return
    path = Path(tslearn.__file__).parent / ".cached_datasets" / "Trace.npz"
    with np.load(path) as z:
        write_split("Trace", "TRAIN", z["X_train"][:, :, 0], z["y_train"], out)
        write_split("Trace", "TEST", z["X_test"][:, :, 0], z["y_test"], out)


def cbf(rng: np.random.Generator, n: int, T: int = 128):
    """Saito (1994): eta ~ N(0,1), eps ~ N(0,1) noise, a ~ U[16, 32], b - a ~ U[32, 96]."""
    y = np.arange(n) % 3 + 1
    rng.shuffle(y)
    t = np.arange(T)
    X = np.empty((n, T))
    for i, c in enumerate(y):
        a = rng.integers(16, 33)
        b = a + rng.integers(32, 97)
        b = min(b, T - 1)
        chi = ((t >= a) & (t <= b)).astype(float)
        eta = rng.normal()
        if c == 1:  # cylinder
            shape = chi
        elif c == 2:  # bell
            shape = chi * (t - a) / (b - a)
        else:  # funnel
            shape = chi * (b - t) / (b - a)
        X[i] = (6 + eta) * shape + rng.normal(size=T)
    return X, y


def sines(rng: np.random.Generator, n: int, t_min: int = 20, t_max: int = 60):
    y = np.arange(n) % 3 + 1
    rng.shuffle(y)
    X = np.full((n, t_max), np.nan)
    for i, c in enumerate(y):
        T = rng.integers(t_min, t_max + 1)
        freq = (0.5, 1.0, 1.5)[c - 1] / 10  # cycles per step
        t = np.arange(T)
        X[i, :T] = np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi)) + 0.3 * rng.normal(size=T)
    return X, y


def main(out: Path = DATA) -> None:
    trace(out)
    rng = np.random.default_rng(SEED)
    for split, n in (("TRAIN", 30), ("TEST", 90)):
        X, y = cbf(rng, n)
        write_split("SynthCBF", split, np.round(X, 5), y, out)  # UCR-like precision
    for split, n in (("TRAIN", 24), ("TEST", 36)):
        X, y = sines(rng, n)
        write_split("SynthVarLenSines", split, np.round(X, 5), y, out)
    print(f"wrote {sorted(p.name for p in out.iterdir())} to {out}")


if __name__ == "__main__":
    main()
