"""CUDA C++ source of the fused GPU RNTK kernel (compiled by CuPy at run time).

One thread computes one pair (i, j) of a tile: all time columns and layers of
the forward form of the recursion with the pair state (V, V', Q) per layer in
registers (the depth L is a template parameter, 1..MAX_LAYERS). Layouts put
the sample index last so that the threads of a warp, which differ in j, read
consecutive addresses: xT, yT (W, m, N) right-aligned values, Sx, Sy (L, W, N)
self-variances. The variants: ``frozen`` (the lowest layers add no Sigma of
their own to Q, a runtime int: one select per layer and column) and the
per-step read-out (a template parameter, so the plain kernel carries no
accumulators). The per-pair function ``rntk_pair`` is ``__host__
__device__``: the tests compile it for the CPU with nvcc and check it against
the float64 reference, so the arithmetic is verified even where no GPU is
available.
"""

MAX_LAYERS = 8
#: The read-outs ``rntk_pair`` implements.
READOUTS = ("last", "per-step")

SOURCE = r"""
#define RNTK_PI 3.141592653589793238462643383279502884

template <typename T>
__host__ __device__ inline void rntk_dual_relu(T k1, T k2, T k3, T snap, T* v, T* d) {
    T s = sqrt(k1 * k2);
    // zero variance: V' is undefined; by convention it takes the c = 0 value 1/4
    T c = s > T(0) ? k3 / s : T(0);
    c = c > T(1) - snap ? T(1) : (c < snap - T(1) ? T(-1) : c);
    T pmt = T(RNTK_PI) - acos(c);
    *v = (c * pmt + sqrt(T(1) - c * c)) * s / T(2 * RNTK_PI);
    *d = pmt / T(2 * RNTK_PI);
}

template <typename T>
__host__ __device__ inline void rntk_dual_erf(T k1, T k2, T k3, T* v, T* d) {
    T a = (T(1) + T(2) * k1) * (T(1) + T(2) * k2);
    T r = T(2) * k3 / sqrt(a);
    r = r > T(1) ? T(1) : (r < T(-1) ? T(-1) : r);
    *v = T(2 / RNTK_PI) * asin(r);
    *d = T(4 / RNTK_PI) / sqrt(a - T(4) * k3 * k3);
}

// RNTK of the pair (x_i, y_j): ntk and nngp (no sigma_h term: never one sample).
// The lowest `frozen` layers add no Sigma of their own to Q; PER_STEP: the
// read-out of every aligned step, summed and scaled by (T T')^(-1/2).
template <typename T, int L, bool PER_STEP>
__host__ __device__ void rntk_pair(
        int i, int j,
        const T* xT, const int* sx, const T* Sx, int nx,
        const T* yT, const int* sy, const T* Sy, int ny,
        int W, int m, const T* sw2, const T* su2, const T* sb2, T sv2,
        int frozen, int act, T snap, T* ntk, T* nngp) {
    T V[L], D[L], Q[L];
    for (int l = 0; l < L; ++l) { V[l] = T(0); D[l] = T(0); Q[l] = T(0); }
    T acc_ntk = T(0), acc_nngp = T(0);
    int c0 = sx[i] > sy[j] ? sx[i] : sy[j];
    T u1 = su2[0] / T(m);
    for (int c = c0; c < W; ++c) {
        #pragma unroll
        for (int l = 0; l < L; ++l) {
            T inp, qin;
            if (l == 0) {
                T dot = T(0);
                for (int f = 0; f < m; ++f)
                    dot += xT[((size_t)c * m + f) * nx + i] * yT[((size_t)c * m + f) * ny + j];
                inp = u1 * dot;
                qin = T(0);
            } else {
                inp = su2[l] * V[l - 1];
                qin = su2[l] * D[l - 1] * Q[l - 1];
            }
            T sig = sw2[l] * V[l] + inp + sb2[l];
            Q[l] = (l >= frozen ? sig : T(0)) + sw2[l] * D[l] * Q[l] + qin;
            T k1 = Sx[((size_t)l * W + c) * nx + i];
            T k2 = Sy[((size_t)l * W + c) * ny + j];
            if (act == 0) rntk_dual_relu<T>(k1, k2, sig, snap, &V[l], &D[l]);
            else rntk_dual_erf<T>(k1, k2, sig, &V[l], &D[l]);
        }
        if (PER_STEP) {
            acc_ntk += sv2 * V[L - 1] + sv2 * D[L - 1] * Q[L - 1];
            acc_nngp += sv2 * V[L - 1];
        }
    }
    if (PER_STEP) {
        T scale = T(1) / sqrt(T(W - sx[i]) * T(W - sy[j]));
        *ntk = acc_ntk * scale;
        *nngp = acc_nngp * scale;
    } else {
        *ntk = sv2 * V[L - 1] + sv2 * D[L - 1] * Q[L - 1];
        *nngp = sv2 * V[L - 1];
    }
}

#ifdef __CUDACC_RTC__
// One thread per pair of the tile [i0, i0 + ni) x [j0, j0 + nj); with
// symmetric, only j > i (the diagonal is computed exactly elsewhere).
template <typename T, int L, bool PER_STEP>
__global__ void rntk_fused(
        const T* xT, const int* sx, const T* Sx, int nx,
        const T* yT, const int* sy, const T* Sy, int ny,
        int W, int m, const T* sw2, const T* su2, const T* sb2, T sv2,
        int frozen, int act, T snap, int i0, int ni, int j0, int nj, int symmetric,
        T* ntk, T* nngp, int ld) {
    int jj = blockIdx.x * blockDim.x + threadIdx.x;
    int ii = blockIdx.y * blockDim.y + threadIdx.y;
    if (ii >= ni || jj >= nj) return;
    int i = i0 + ii, j = j0 + jj;
    if (symmetric && j <= i) return;
    T a, b;
    rntk_pair<T, L, PER_STEP>(i, j, xT, sx, Sx, nx, yT, sy, Sy, ny, W, m, sw2, su2, sb2, sv2, frozen, act,
                              snap, &a, &b);
    ntk[(size_t)i * ld + j] = a;
    nngp[(size_t)i * ld + j] = b;
}
#endif
"""


def host_harness(max_layers: int = MAX_LAYERS) -> str:
    """C++ wrappers exposing rntk_pair on the host (for the CPU test of the CUDA arithmetic)."""
    out = ["#include <cmath>", "#include <cstddef>", "using std::sqrt; using std::acos; using std::asin;", SOURCE]
    for T, tag in (("double", "f64"), ("float", "f32")):
        cases = "\n".join(
            f"        case {2 * L + ps}: rntk_pair<{T}, {L}, {('false', 'true')[ps]}>(i, j, xT, sx, Sx, nx, yT, sy,"
            f" Sy, ny, W, m, sw2, su2, sb2, sv2, frozen, act, snap, ntk + k, nngp + k); break;"
            for L in range(1, max_layers + 1) for ps in (0, 1)
        )
        out.append(f"""
extern "C" void rntk_pairs_{tag}(int n_pairs, const int* ip, const int* jp, int L, int per_step,
        const {T}* xT, const int* sx, const {T}* Sx, int nx,
        const {T}* yT, const int* sy, const {T}* Sy, int ny,
        int W, int m, const {T}* sw2, const {T}* su2, const {T}* sb2, {T} sv2,
        int frozen, int act, {T} snap, {T}* ntk, {T}* nngp) {{
    for (int k = 0; k < n_pairs; ++k) {{
        int i = ip[k], j = jp[k];
        switch (2 * L + (per_step != 0)) {{
{cases}
        }}
    }}
}}""")
    return "\n".join(out)
