"""Hypothesis strategies shared by the kernel tests."""
import numpy as np
from hypothesis import strategies as st

from rntk import RNTK

SIGMAS = st.sampled_from([0.0, 0.3, 0.7, 1.0, 2**0.5, 1.8])


@st.composite
def rntk_cases(draw, max_len=40, sig=SIGMAS, sig_u=SIGMAS, n_x=5, n_y=4, zeros=True):
    """(RNTK, X, Y): depth 1-3, relu/erf, per-layer sigmas, m = 1-3, mixed lengths."""
    L = draw(st.integers(1, 3))
    kw = dict(
        n_layers=L,
        activation=draw(st.sampled_from(["relu", "erf"])),
        sigma_w=[draw(sig) for _ in range(L)],
        sigma_u=[draw(sig_u) for _ in range(L)],
        sigma_b=[draw(sig) for _ in range(L)],
        sigma_h=[draw(sig) for _ in range(L)],
        sigma_v=draw(st.sampled_from([0.5, 1.0, 1.3])),
    )
    m = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    nx, ny = draw(st.integers(1, n_x)), draw(st.integers(1, n_y))
    lens = rng.integers(1, max_len + 1, size=nx + ny)
    seqs = [rng.normal(size=(t, m)) for t in lens]
    if zeros and draw(st.booleans()):  # exact zeros: zero-variance pre-activations
        seqs[0][: max(1, lens[0] // 2)] = 0.0
    return RNTK(**kw), seqs[:nx], seqs[nx:]
