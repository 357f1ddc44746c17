"""The RNTK (or its NNGP) as a GPyTorch kernel with learnable hyperparameters.

The values are those of :meth:`rntk.RNTK.gram_torch` (the recursion of
``rntk.kernels._recursion`` on torch tensors), evaluated on exactly the pairs
GPyTorch asks for: a batch of inputs (..., N, D) becomes one flat list of
(row, column) pairs, so a BoTorch batch of candidate sets costs one pass.
"""
from __future__ import annotations

import itertools
import math

import gpytorch
import torch
from gpytorch.constraints import GreaterThan, Positive

from .._validation import check_finite_result
from ..kernels import RNTK
from ..kernels._recursion import cross_pairs, self_variance_table, training_diagonal
from ..kernels._torch import _DUALS, _hyper, _reversed
from ._encoding import split_encoded

__all__ = ["RNTKKernel"]

_SIGMAS = ("sigma_w", "sigma_u", "sigma_b", "sigma_h")
COMPONENTS = ("ntk", "nngp")


def _identity(t):
    return t


def nonnegative() -> GreaterThan:
    """sigma = |raw|: zero is reached at a finite raw value (raw = 0)."""
    return GreaterThan(0.0, transform=torch.abs, inv_transform=_identity)


def same_samples(x1: torch.Tensor, x2: torch.Tensor) -> bool:
    """Whether x1 and x2 are one set of samples: the same tensor, or the same view of one memory.

    GPyTorch evaluates K(X) as ``forward(X, X)`` with one tensor, and the
    test-test block of a prediction as two equal slices of one concatenated
    tensor; both are the same samples. Equal values in other memory are
    other samples (``RNTK.gram(X, Y)``'s convention: no sigma_h term).
    """
    if x1 is x2:
        return True
    return (x1.device == x2.device and x1.shape == x2.shape and x1.stride() == x2.stride()
            and x1.dtype == x2.dtype and x1.data_ptr() == x2.data_ptr())


def _right_aligned(values, lengths, W):
    """Left-aligned (n, T, m) values -> right-aligned (n, W, m) (differentiable gather), and starts."""
    start = W - lengths
    col = torch.arange(W, device=values.device)[None, :]
    step = col - start[:, None]
    src = step.clamp(0, values.shape[1] - 1)
    XR = torch.gather(values, 1, src[:, :, None].expand(-1, -1, values.shape[2]))
    return torch.where((step >= 0)[:, :, None], XR, 0.0), start


class RNTKKernel(gpytorch.kernels.Kernel):
    r"""Recurrent neural tangent kernel (or its NNGP) for GPyTorch and BoTorch.

    The kernel of :class:`rntk.RNTK` with sigma_v = 1: wrap it in
    ``gpytorch.kernels.ScaleKernel``, whose ``outputscale`` is then sigma_v^2
    (both the NTK and the NNGP are proportional to sigma_v^2).

    Inputs are sequences encoded by :func:`rntk.gp.encode_sequences`: rows
    ``[T_i, x_1, ..., x_T]`` of width 1 + T*m, the length first, then the steps
    (time-major, left-aligned, m features each); the kernel reads the values of
    the first T_i steps only and compares sequences end-aligned, as ``RNTK`` does.
    Gradients flow to the step values, not to the length column.

    Same-sample convention (sigma_h): when x1 and x2 are one set of samples
    (the same tensor, or the same view of one memory; see ``same_samples``) the
    diagonal gets the sigma_w^2 sigma_h^2 term of a sample meeting its own random
    initial state, as in ``RNTK.gram(X)``. This is what GPyTorch passes for the
    training covariance K(X) and for the test-test block of a prediction
    (prior variances of f at the test points); the train-test block never has
    it. Inputs that are equal in value but stored apart are different samples.
    GPyTorch's kernel checkpointing (a beta feature that splits x1 into
    chunks) would break this convention and is not supported.

    Parameters
    ----------
    n_features : int
        m, the features per step (the encoding's width is 1 + T*m).
    n_layers : int
        L >= 1.
    activation : {"relu", "erf"}
    component : {"ntk", "nngp"}
        The tangent kernel or the output covariance of the network at initialisation.
    sigma_w, sigma_u, sigma_b, sigma_h : float or sequence of n_layers floats
        Initial values. sigma_w and sigma_u are kept > 0 (softplus): at 0 the
        network forgets its past, or its input, and the ReLU dual's derivative is
        singular there. sigma_b and sigma_h are kept >= 0 as |raw| so that 0 (the
        paper's most frequent choice) is reached at a finite raw value (softplus
        only approaches it). The kernel depends on sigma^2 = raw^2; it is smooth
        in raw except where a pair's correlation reaches +-1 at sigma_b = sigma_h
        = 0 (ReLU, m = 1: arccos then gives a term in |sigma_b|), a kink at raw = 0
        where line searches may stop; pass ``gpytorch.constraints.Positive()`` to
        avoid it. Do not start them at exactly 0 (raw = 0 is stationary otherwise).
    frozen_layers, direction, readout :
        The variants of :class:`rntk.RNTK` (fixed, not learned). ``diag=True`` costs
        O(N T L) for the "last" and "per-step" read-outs and O(N T^2 L) for "mean",
        whose same-sample value needs the sample's whole T x T grid of step pairs.
    batch_shape : torch.Size
        Batched hyperparameters (shape (*batch_shape, n_layers) each); evaluated
        one hyperparameter batch at a time.
    sigma_w_constraint, ..., sigma_h_constraint : gpytorch.constraints.Interval, optional
        Replace the default constraints.

    Examples
    --------
    >>> import torch, gpytorch
    >>> from rntk.gp import RNTKKernel, encode_sequences
    >>> x = encode_sequences([[0.1, 0.5, -0.3], [0.2, 0.4]])   # two sequences, m = 1
    >>> k = gpytorch.kernels.ScaleKernel(RNTKKernel(n_features=1)).double()
    >>> k(x).to_dense().shape
    torch.Size([2, 2])
    """

    has_lengthscale = False

    def __init__(self, n_features: int = 1, n_layers: int = 1, activation: str = "relu",
                 component: str = "ntk", sigma_w=2**0.5, sigma_u=1.0, sigma_b=0.1, sigma_h=0.1,
                 frozen_layers: int = 0, direction: str = "forward", readout: str = "last",
                 sigma_w_constraint=None, sigma_u_constraint=None, sigma_b_constraint=None,
                 sigma_h_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
            raise ValueError(f"n_features must be a positive integer, got {n_features!r}")
        if activation not in _DUALS:
            raise ValueError(f"activation must be one of {tuple(_DUALS)} (closed-form duals), "
                             f"got {activation!r}")
        if component not in COMPONENTS:
            raise ValueError(f"component must be one of {COMPONENTS}, got {component!r}")
        # validates n_layers, the sigmas (finite, >= 0, per layer) and the variants, once
        decl = RNTK(n_layers=n_layers, activation=activation, sigma_w=sigma_w, sigma_u=sigma_u,
                    sigma_b=sigma_b, sigma_h=sigma_h, frozen_layers=frozen_layers,
                    direction=direction, readout=readout)
        for name in ("sigma_w", "sigma_u"):
            if min(getattr(decl, name)) <= 0:
                raise ValueError(f"{name} must be > 0 here (it is constrained positive), "
                                 f"got {getattr(decl, name)}")
        self.n_features, self.component = n_features, component
        self._decl = decl
        given = {"sigma_w": sigma_w_constraint, "sigma_u": sigma_u_constraint,
                 "sigma_b": sigma_b_constraint, "sigma_h": sigma_h_constraint}
        for name in _SIGMAS:
            # float64 from the start, so that the initial values keep their digits (a
            # float32 parameter made float64 by ``.double()`` would carry float32 rounding)
            raw = torch.zeros(*self.batch_shape, n_layers, dtype=torch.float64)
            self.register_parameter(f"raw_{name}", torch.nn.Parameter(raw))
            default = Positive() if name in ("sigma_w", "sigma_u") else nonnegative()
            self.register_constraint(f"raw_{name}", given[name] or default)
            self._set(name, torch.tensor(getattr(decl, name), dtype=torch.float64))

    # -- hyperparameters ------------------------------------------------------
    def _get(self, name):
        return getattr(self, f"raw_{name}_constraint").transform(getattr(self, f"raw_{name}"))

    def _set(self, name, value):
        raw = getattr(self, f"raw_{name}")
        value = torch.as_tensor(value, dtype=raw.dtype, device=raw.device).expand_as(raw)
        self.initialize(**{f"raw_{name}": getattr(self, f"raw_{name}_constraint").inverse_transform(value)})

    sigma_w = property(lambda self: self._get("sigma_w"), lambda self, v: self._set("sigma_w", v))
    sigma_u = property(lambda self: self._get("sigma_u"), lambda self, v: self._set("sigma_u", v))
    sigma_b = property(lambda self: self._get("sigma_b"), lambda self, v: self._set("sigma_b", v))
    sigma_h = property(lambda self: self._get("sigma_h"), lambda self, v: self._set("sigma_h", v))

    @property
    def n_layers(self) -> int:
        return self._decl.n_layers

    def to_rntk(self, sigma_v: float = 1.0) -> RNTK:
        """The current hyperparameters as an :class:`rntk.RNTK` (fast numpy/numba Grams)."""
        if len(self.batch_shape):
            raise ValueError(f"to_rntk needs unbatched hyperparameters, batch_shape is {self.batch_shape}")
        vals = {n: [abs(float(v)) for v in self._get(n).detach().cpu()] for n in _SIGMAS}
        d = self._decl
        return RNTK(n_layers=d.n_layers, activation=d.activation, sigma_v=sigma_v,
                    frozen_layers=d.frozen_layers, direction=d.direction, readout=d.readout, **vals)

    # -- evaluation -----------------------------------------------------------
    def forward(self, x1, x2, diag: bool = False, last_dim_is_batch: bool = False, **params):
        if last_dim_is_batch:
            raise NotImplementedError("RNTKKernel does not support last_dim_is_batch (a sequence "
                                      "is one input, not independent dimensions)")
        same = same_samples(x1, x2)
        m = self.n_features
        v1, l1 = split_encoded(x1, m, "x1")
        v2, l2 = (v1, l1) if same else split_encoded(x2, m, "x2")
        if v1.shape[-2:] != v2.shape[-2:]:
            raise ValueError(f"x1 and x2 encode different widths: {x1.shape[-1]} vs {x2.shape[-1]} columns")
        if x1.dtype != x2.dtype:
            raise ValueError(f"x1 and x2 must share a dtype, got {x1.dtype} and {x2.dtype}")
        N, M = v1.shape[-3], v2.shape[-3]
        if diag and N != M:
            raise ValueError(f"diag=True needs as many rows in x1 as in x2, got {N} and {M}")
        in_batch = torch.broadcast_shapes(v1.shape[:-3], v2.shape[:-3])
        sig = {n: self._get(n) for n in _SIGMAS}
        if not len(self.batch_shape):
            return self._evaluate(v1, l1, v2, l2, in_batch, same, diag, sig)
        # batched hyperparameters: their dims are the trailing batch dims; one setting at a time
        batch = torch.broadcast_shapes(in_batch, self.batch_shape)
        lead = batch[: len(batch) - len(self.batch_shape)]
        v1, l1 = v1.expand(*batch, *v1.shape[-3:]), l1.expand(*batch, l1.shape[-1])
        v2, l2 = v2.expand(*batch, *v2.shape[-3:]), l2.expand(*batch, l2.shape[-1])
        outs = []
        for idx in itertools.product(*(range(n) for n in self.batch_shape)):
            at = (slice(None),) * len(lead) + idx
            outs.append(self._evaluate(v1[at], l1[at], v2[at], l2[at], lead, same, diag,
                                       {n: s[idx] for n, s in sig.items()}))
        out = torch.stack(outs, dim=len(lead))
        return out.reshape(*batch, *out.shape[len(lead) + 1:])

    def _evaluate(self, v1, l1, v2, l2, batch, same, diag, sig):
        """Kernel values for one hyperparameter setting, inputs broadcast over ``batch``."""
        T, m = v1.shape[-2:]
        N, M = v1.shape[-3], v2.shape[-3]
        v1, l1 = v1.expand(*batch, N, T, m), l1.expand(*batch, N)
        v2, l2 = v2.expand(*batch, M, T, m), l2.expand(*batch, M)
        nb = int(math.prod(batch))
        fx, lx = v1.reshape(nb * N, T, m), l1.reshape(nb * N)
        fy, ly = (fx, lx) if same else (v2.reshape(nb * M, T, m), l2.reshape(nb * M))
        W = int(max(lx.max(), ly.max()))
        XR, sx = _right_aligned(fx, lx, W)
        YR, sy = (XR, sx) if same else _right_aligned(fy, ly, W)
        sigma = dict(sig)
        hp = _hyper(self._decl, sigma, XR.dtype, XR.device)
        pair, dual_diag = _DUALS[self._decl.dual.name]
        which = COMPONENTS.index(self.component)
        dev = XR.device
        if same and diag:
            pairs = None
        elif diag:
            pairs = (torch.arange(nb * N, device=dev),) * 2
        elif same:
            i, j = torch.triu_indices(N, N, 1, device=dev)
            off = (torch.arange(nb, device=dev) * N)[:, None]
            pairs = ((off + i).reshape(-1), (off + j).reshape(-1))
        else:
            i = torch.arange(N, device=dev).repeat_interleave(M)
            j = torch.arange(M, device=dev).repeat(N)
            pairs = (((torch.arange(nb, device=dev) * N)[:, None] + i).reshape(-1),
                     ((torch.arange(nb, device=dev) * M)[:, None] + j).reshape(-1))
        directions = {"forward": (False,), "reversed": (True,), "bidirectional": (False, True)}
        total_d = total_p = None
        for rev in directions[self._decl.direction]:
            A = _reversed(XR, lx) if rev else XR
            B = A if same else (_reversed(YR, ly) if rev else YR)
            Sx = self_variance_table(A, sx, hp, dual_diag)
            d = training_diagonal(A, sx, Sx, hp, pair, dual_diag)[which] if same else None
            p = None
            if pairs is not None and len(pairs[0]):
                Sy = Sx if same else self_variance_table(B, sy, hp, dual_diag)
                p = cross_pairs(A, sx, Sx, B, sy, Sy, pairs[0], pairs[1], hp, pair)[which]
            total_d = d if total_d is None else total_d + d
            total_p = p if total_p is None else total_p + p
        if same and diag:
            out = total_d.reshape(*batch, N)
        elif diag:
            out = total_p.reshape(*batch, N)
        elif same:
            full = XR.new_zeros(nb, N, N)
            b = torch.arange(nb, device=dev).repeat_interleave(len(i))
            ii, jj = i.repeat(nb), j.repeat(nb)
            if total_p is not None:
                full = full.index_put((b, ii, jj), total_p).index_put((b, jj, ii), total_p)
            k = torch.arange(N, device=dev)
            full = full.index_put((torch.arange(nb, device=dev).repeat_interleave(N), k.repeat(nb), k.repeat(nb)),
                                  total_d)
            out = full.reshape(*batch, N, N)
        else:
            out = total_p.reshape(*batch, N, M)
        dt = "float32" if out.dtype == torch.float32 else "float64"
        check_finite_result(out.detach(), out.detach(), dt, xp=torch)
        return out
