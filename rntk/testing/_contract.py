"""``KernelContractTests``: the kernel contract as a pytest base class."""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..kernels._declaration import Capabilities
from ._checks import (
    _FIELDS,
    _Result,
    _assert_close,
    _assert_psd,
    _assert_same_pairs,
    _assert_symmetric,
    _diagonals,
    _fields,
    _take,
    _transpose,
)
from ._compare import TOLERANCES, assert_close_matrices, tolerance

__all__ = ["KernelContractTests"]


def _capabilities(kernel) -> Capabilities:
    """The kernel's declared capabilities; a kernel without is taken as a
    fixed-length, float64-only kernel with nothing optional (the checks of
    the rest are skipped)."""
    caps = getattr(kernel, "capabilities", None)
    if caps is None:
        return Capabilities(variable_length=False, diag=False, dtypes=("float64",))
    return caps


def _gpu_available() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - no CuPy, no driver, no device: all mean "none"
        return False


def _nan_padded(seqs) -> np.ndarray:
    """A list of (T_i, m) or (T_i,) sequences as one array with trailing NaN."""
    seqs = [np.asarray(s, dtype=np.float64) for s in seqs]
    seqs = [s[:, None] if s.ndim == 1 else s for s in seqs]
    out = np.full((len(seqs), max(len(s) for s in seqs), seqs[0].shape[1]), np.nan)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out


# -- the contract, as a pytest base class ------------------------------------------
#: Results that several tests of one class share, keyed by (class, what).
_MEMO: dict = {}


class KernelContractTests:
    """The kernel contract as inheritable pytest tests.

    Subclass it in a test module under a name that starts with ``Test``, set
    :attr:`kernel` (or override :meth:`make_kernel`) and override
    :meth:`make_inputs`. The kernel's ``capabilities``
    (:class:`rntk.kernels.Capabilities`; a kernel without is taken as
    fixed-length and float64-only, with nothing optional) decide which
    checks run:

    =============================================  ================================
    check                                          runs
    =============================================  ================================
    ``gram(X)`` exactly symmetric, PSD             each dtype
    ``gram(X, X)`` = ``gram(X)`` off the diagonal  each dtype
    ``gram(Y, X)`` = ``gram(X, Y).T``              each dtype
    permuting the samples permutes the Gram        each dtype
    ``diag(X)`` = diagonal of ``gram(X)``          ``capabilities.diag``
    ``batch_size=`` bitwise equal to untiled       ``capabilities.batch_size``
    float32 (etc.) against float64                 each dtype other than float64
    lists of sequences of different lengths        ``capabilities.variable_length``
    every backend against the reference            each backend but "auto"
    =============================================  ================================

    Every threshold comes from :data:`TOLERANCES`. A GPU backend is skipped
    where CuPy or a GPU is missing, and a backend is skipped when the kernel
    refuses it with a ``ValueError`` naming it (e.g. a quadrature activation
    on "cpu-fused"). Backends are compared to the float64 "reference"
    backend, or to "cpu-vectorized" where there is no "reference" (the
    baseline itself is compared to the default backend).

    Attributes
    ----------
    kernel : object with ``gram(X, Y=None, ...)``
        The kernel under test (see :meth:`make_kernel`).
    seed : int
        Seed of the generator passed to :meth:`make_inputs`.
    expected_failures : dict
        Known failures, ``{"<check>[<parameter>]": "reason"}`` (e.g.
        ``"test_batched_equals_unbatched[float32]"``): that case is a strict
        xfail, so it reports when it starts to pass.
    """

    kernel: Any = None
    seed: int = 0
    expected_failures: ClassVar[dict[str, str]] = {}

    # -- what a subclass provides ------------------------------------------------
    def make_kernel(self):
        """The kernel under test; by default :attr:`kernel`."""
        if self.kernel is None:
            raise NotImplementedError(
                f"{type(self).__name__}: set `kernel` or override make_kernel()"
            )
        return self.kernel

    def make_inputs(self, rng: np.random.Generator):
        """Two inputs ``(X, Y)`` of ``gram``: X with a few samples (N >= 3), Y with others."""
        raise NotImplementedError(f"{type(self).__name__}: override make_inputs(rng) -> (X, Y)")

    def make_variable_length_inputs(self, rng: np.random.Generator):
        """Two lists of (T_i, m) sequences of different lengths, for the
        variable-length check; override to match the kernel's inputs."""
        xs = [rng.normal(size=(t, 2)) for t in (4, 1, 6, 3, 5)]
        ys = [rng.normal(size=(t, 2)) for t in (2, 7, 4)]
        return xs, ys

    # -- parametrisation -----------------------------------------------------------
    def pytest_generate_tests(self, metafunc):
        """Parametrise ``dtype``, ``lower_dtype`` and ``backend`` from the capabilities."""
        import pytest

        caps = self.capabilities
        name = metafunc.function.__name__

        def values(vals):
            out = []
            for v in vals:
                reason = self.expected_failures.get(f"{name}[{v}]")
                if reason is not None:
                    xfail = pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)
                    v = pytest.param(v, marks=xfail)
                out.append(v)
            return out

        if "dtype" in metafunc.fixturenames:
            metafunc.parametrize("dtype", values(caps.dtypes))
        if "lower_dtype" in metafunc.fixturenames:
            metafunc.parametrize("lower_dtype", values(d for d in caps.dtypes if d != "float64"))
        if "backend" in metafunc.fixturenames:
            metafunc.parametrize("backend", values(b for b in caps.backends if b != "auto"))

    # -- shared state --------------------------------------------------------------
    def _memo(self, what: str, make):
        key = (type(self), what)
        if key not in _MEMO:
            _MEMO[key] = make()
        return _MEMO[key]

    @property
    def capabilities(self) -> Capabilities:
        """The kernel's declared capabilities (the conservative default if none)."""
        return _capabilities(self._kernel())

    def _kernel(self):
        return self._memo("kernel", self.make_kernel)

    def _inputs(self):
        return self._memo("inputs", lambda: self.make_inputs(np.random.default_rng(self.seed)))

    def _gram(self, X, Y=None, **kwargs):
        kwargs = {k: v for k, v in kwargs.items() if not (k == "dtype" and v == "float64")}
        kernel = self._kernel()
        return kernel.gram(X, **kwargs) if Y is None else kernel.gram(X, Y, **kwargs)

    def _self_values(self, which: str) -> dict:
        """Diagonal of the float64 ``gram(X)`` or ``gram(Y)``: the scale of entry errors."""

        def make():
            X, Y = self._inputs()
            return _diagonals(self._gram(X if which == "X" else Y))

        return self._memo("diag " + which, make)

    # -- the checks ------------------------------------------------------------------
    def test_gram_exactly_symmetric(self, dtype):
        X, _ = self._inputs()
        res = self._gram(X, dtype=dtype)
        n = len(X)
        _assert_symmetric(res, n, f"gram(X, dtype={dtype!r})")
        for name, K in _fields(res).items():
            assert K.dtype == np.dtype(dtype), f"{name} has dtype {K.dtype}, asked for {dtype}"

    def test_gram_psd(self, dtype):
        X, _ = self._inputs()
        _assert_psd(self._gram(X, dtype=dtype), tolerance(dtype).psd, f"gram(X, dtype={dtype!r})")

    def test_cross_gram_matches_training_gram_off_diagonal(self, dtype):
        X, _ = self._inputs()
        n, k = len(X), max(1, len(X) // 2)
        full = _fields(self._gram(X, dtype=dtype))
        d = self._self_values("X")
        off = ~np.eye(n, dtype=bool)
        _assert_same_pairs(
            self._gram(X, X, dtype=dtype),
            _Result(**full),
            d,
            d,
            tolerance(dtype).entry,
            "gram(X, X) against gram(X) off the diagonal",
            off,
        )
        dk = {name: v[:k] for name, v in d.items()}
        _assert_same_pairs(
            self._gram(X, _take(X, range(k)), dtype=dtype),
            _Result(**{name: K[:, :k] for name, K in full.items()}),
            d,
            dk,
            tolerance(dtype).entry,
            "gram(X, X[:k]) against gram(X)[:, :k] off the diagonal",
            off[:, :k],
        )

    def test_swapped_arguments_transpose(self, dtype):
        X, Y = self._inputs()
        xy, yx = self._gram(X, Y, dtype=dtype), self._gram(Y, X, dtype=dtype)
        _assert_same_pairs(
            _transpose(yx),
            xy,
            self._self_values("X"),
            self._self_values("Y"),
            tolerance(dtype).entry,
            "gram(Y, X).T against gram(X, Y)",
        )

    def test_permutation_equivariance(self, dtype):
        X, Y = self._inputs()
        rng = np.random.default_rng(self.seed + 1)
        p, q = rng.permutation(len(X)), rng.permutation(len(Y))
        dx, dy = self._self_values("X"), self._self_values("Y")
        tol = tolerance(dtype).entry
        full, cross = _fields(self._gram(X, dtype=dtype)), _fields(self._gram(X, Y, dtype=dtype))
        _assert_same_pairs(
            self._gram(_take(X, p), dtype=dtype),
            _Result(**{m: K[np.ix_(p, p)] for m, K in full.items()}),
            {m: v[p] for m, v in dx.items()},
            {m: v[p] for m, v in dx.items()},
            tol,
            "gram(X[p]) against gram(X)[p][:, p]",
        )
        _assert_same_pairs(
            self._gram(_take(X, p), _take(Y, q), dtype=dtype),
            _Result(**{m: K[np.ix_(p, q)] for m, K in cross.items()}),
            {m: v[p] for m, v in dx.items()},
            {m: v[q] for m, v in dy.items()},
            tol,
            "gram(X[p], Y[q]) against gram(X, Y)[p][:, q]",
        )

    def test_diag_matches_gram(self, dtype):
        import pytest

        if not self.capabilities.diag:
            pytest.skip("capabilities.diag is False")
        X, _ = self._inputs()
        kwargs = {} if dtype == "float64" else {"dtype": dtype}
        got = _fields(self._kernel().diag(X, **kwargs))
        want = _diagonals(self._gram(X, dtype=dtype))
        for name in _FIELDS:
            assert got[name].shape == (len(X),), f"diag(X).{name} has shape {got[name].shape}"
            assert got[name].dtype == np.dtype(dtype), f"diag(X).{name} has dtype {got[name].dtype}"
            assert_close_matrices(
                got[name],
                want[name],
                tolerance(dtype).rtol,
                f"diag(X).{name} against the diagonal of gram(X)",
            )

    def test_batched_equals_unbatched(self, dtype):
        import pytest

        if not self.capabilities.batch_size:
            pytest.skip("capabilities.batch_size is False")
        X, Y = self._inputs()
        for args in ((X,), (X, Y)):
            whole = _fields(self._gram(*args, dtype=dtype))
            for bs in sorted({1, 2, max(1, len(X) // 2)}):
                tiled = _fields(self._gram(*args, dtype=dtype, batch_size=bs))
                for name in _FIELDS:
                    diff = np.abs(tiled[name] - whole[name]).max()
                    assert np.array_equal(tiled[name], whole[name]), (
                        f"gram({'X' if len(args) == 1 else 'X, Y'}, batch_size={bs}).{name} "
                        f"differs from the untiled result (max |diff| {diff:.3e})"
                    )

    def test_lower_precision_matches_float64(self, lower_dtype):
        X, Y = self._inputs()
        tol = tolerance(lower_dtype).rtol
        for args, what in (((X,), "gram(X)"), ((X, Y), "gram(X, Y)")):
            got = self._gram(*args, dtype=lower_dtype)
            for name, K in _fields(got).items():
                assert K.dtype == np.dtype(lower_dtype), f"{what}.{name} has dtype {K.dtype}"
            _assert_close(got, self._gram(*args), tol, f"{what} in {lower_dtype} against float64")

    def test_variable_length_inputs(self):
        import pytest

        if not self.capabilities.variable_length:
            pytest.skip("capabilities.variable_length is False")
        xs, ys = self._memo(
            "variable inputs",
            lambda: self.make_variable_length_inputs(np.random.default_rng(self.seed + 2)),
        )
        if len({len(s) for s in xs}) < 2:
            raise ValueError("make_variable_length_inputs must give sequences of different lengths")
        tol = TOLERANCES["float64"]
        res = self._gram(xs)
        _assert_symmetric(res, len(xs), "gram(xs) of sequences of different lengths")
        _assert_psd(res, tol.psd, "gram(xs) of sequences of different lengths")
        dx, dy = _diagonals(res), _diagonals(self._gram(ys))
        _assert_same_pairs(
            self._gram(_nan_padded(xs)),
            res,
            dx,
            dx,
            tol.entry,
            "gram of the trailing-NaN array against gram of the list",
        )
        # a pair's value may not depend on the other sequences' lengths
        cross = self._gram(xs, ys)
        alone = {name: np.empty((len(xs), len(ys))) for name in _FIELDS}
        for i, x in enumerate(xs):
            for j, y in enumerate(ys):
                one = _fields(self._gram([x], [y]))
                for name in _FIELDS:
                    alone[name][i, j] = one[name][0, 0]
        _assert_same_pairs(
            cross, _Result(**alone), dx, dy, tol.entry, "gram(xs, ys) against each pair alone"
        )

    def test_backend_matches_reference(self, backend, dtype):
        import pytest

        caps = self.capabilities
        if backend.startswith("gpu") and not _gpu_available():
            pytest.skip(f"backend {backend!r} needs CuPy and a GPU")
        X, Y = self._inputs()
        try:
            got = [self._gram(*args, backend=backend, dtype=dtype) for args in ((X,), (X, Y))]
        except ValueError as e:
            if backend in str(e):
                pytest.skip(f"the kernel refuses backend {backend!r}: {e}")
            raise
        named = [b for b in caps.backends if b != "auto"]
        baseline = next((b for b in ("reference", "cpu-vectorized") if b in named), named[0])
        kwargs = {} if backend == baseline else {"backend": baseline}
        want = self._memo(
            "float64 on " + str(kwargs),
            lambda: [self._gram(*args, **kwargs) for args in ((X,), (X, Y))],
        )
        against = "the default backend" if backend == baseline else repr(baseline)
        for g, w, what in zip(got, want, ("gram(X)", "gram(X, Y)")):
            _assert_close(
                g,
                w,
                tolerance(dtype).rtol,
                f"{what} on {backend!r} in {dtype} against float64 on {against}",
            )
