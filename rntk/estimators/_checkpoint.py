"""Resumable checkpoints of ``kernel_grid_search``: finished kernel configurations on disk.

A checkpoint is an ``.npz`` written atomically (temporary file, fsync, rename)
and read with ``allow_pickle=False``; it records a fingerprint of the data,
the grid and the folds, so a checkpoint from another search is refused, and a
damaged one is discarded with a warning naming the file.
"""
from __future__ import annotations

import time
import zipfile

import numpy as np

__all__ = ["_Checkpoint", "_fingerprint"]


def _fingerprint(X, y, X_test, y_test, kernels, params, splits, task, output, max_iter=-1) -> str:
    """A hash of everything that determines a search's scores."""
    import hashlib

    h = hashlib.sha256()
    for a in (X, np.asarray(y).astype(str), X_test, None if y_test is None else np.asarray(y_test).astype(str),
              params):
        h.update(b"-" if a is None else np.ascontiguousarray(a).tobytes() + str(np.shape(a)).encode())
    for tr, va in splits:
        h.update(np.asarray(tr).tobytes() + b"|" + np.asarray(va).tobytes())
    h.update(repr((tuple(repr(k) for k in kernels), task, output) + ((max_iter,) if max_iter != -1 else ())).encode())
    return h.hexdigest()


_DAMAGE = (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile)  # what a damaged .npz raises


class _Checkpoint:
    """Scores of a grid search, resumable from an ``.npz`` file (or in memory only).

    The file is written atomically (a temp file in the same folder renamed
    over it), so it holds a complete earlier state or nothing of this one. A
    file that cannot be read anyway (truncated by a full disk or a copy,
    edited, an object array: loads never unpickle) is discarded with a
    warning naming it, and the search starts afresh and overwrites it; a
    readable checkpoint of a different search is an error instead: it may
    hold hours of that search's work, and a mistyped path must not erase it.
    """

    def __init__(self, path, key, nk, npar, nf, has_test, every):
        from pathlib import Path

        self.path = None if path is None else Path(path)
        self.key, self.every, self.last = key, float(every), time.monotonic()
        self.fold_scores = np.full((nk, npar, nf), np.nan)
        self.test_scores = np.full((nk, npar), np.nan) if has_test else None
        self.gram_s, self.fit_s = np.zeros(nk), np.zeros(nk)
        self.unconverged = np.zeros(nk, dtype=np.int64)
        self.done = np.zeros(nk, dtype=bool)
        if self.path is not None and self.path.is_file():
            saved = self._read()
            if saved is not None:
                self._restore(saved, has_test)

    def _read(self):
        try:
            with np.load(self.path, allow_pickle=False) as z:
                saved = {name: z[name] for name in ("key", "fold_scores", "test_scores", "gram_s", "fit_s", "done")}
                saved["unconverged"] = z["unconverged"] if "unconverged" in z.files else None
        except _DAMAGE as e:
            self._discard(f"{type(e).__name__}: {e}")
            return None
        if saved["key"].shape != () or saved["key"].dtype.kind != "U":
            self._discard(f"its key is a {saved['key'].dtype} array of shape {saved['key'].shape}, not a string")
            return None
        return saved

    def _restore(self, saved, has_test):
        if str(saved["key"]) != self.key:
            raise ValueError(
                f"checkpoint {self.path} was written by a different search (other data, "
                "kernels, params, folds or task); delete it or pass another path"
            )
        want = {"fold_scores": self.fold_scores, "gram_s": self.gram_s, "fit_s": self.fit_s, "done": self.done}
        if has_test:
            want["test_scores"] = self.test_scores
        if saved["unconverged"] is not None:
            want["unconverged"] = self.unconverged
        for name, a in want.items():
            if saved[name].shape != a.shape or not np.can_cast(saved[name].dtype, a.dtype, "same_kind"):
                self._discard(f"{name} is {saved[name].dtype} of shape {saved[name].shape}, "
                              f"expected {a.dtype} of shape {a.shape}")
                return
        for name, a in want.items():
            a[:] = saved[name]

    def _discard(self, why: str) -> None:
        import warnings

        warnings.warn(f"checkpoint {self.path} is damaged ({why}); discarding it: every kernel "
                      "configuration is recomputed and the file is overwritten at the next save",
                      RuntimeWarning, stacklevel=5)

    def finished(self, k):
        self.done[k] = True
        if self.path is not None and time.monotonic() - self.last >= self.every:
            self.save()

    def save(self):
        if self.path is None:
            return
        import os
        import tempfile

        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, key=self.key, fold_scores=self.fold_scores, gram_s=self.gram_s, fit_s=self.fit_s,
                         done=self.done, unconverged=self.unconverged,
                         test_scores=np.empty(0) if self.test_scores is None else self.test_scores)
                f.flush()
                os.fsync(f.fileno())  # the rename below must not land before the data (power cut)
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        self.last = time.monotonic()
