// wattprof-burn: a GPU power-envelope stress with result checking.
//
// Each selected GPU gets one host thread that multiplies two random N x N matrices over and
// over through cuBLAS (cuBLASLt for fp8), compares the product against the first one it
// computed, and checks sampled elements of the first and last product against an fp64
// reference computed on the host from the same inputs. `--help` explains the options.
//
// Why random inputs: matrix units draw less power, and run faster, on zeros and other
// low-entropy data (a bf16 GEMM ran 13 % faster on zeros on an H200 here, 2026-10-28), so a
// burn on constant data would understate the power envelope.
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <wattprof/marks.h>

#include "core/json.h"
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace
{

enum ExitCode { EXIT_RUN_FAILED = 1, EXIT_BAD_ARGS = 2, EXIT_SETUP = 3, EXIT_RESULT_ERRORS = 4 };

enum class Dtype { BF16, FP16, FP8, FP32 };

const char *dtype_name(Dtype d)
{
    switch (d) {
    case Dtype::BF16:
        return "bf16";
    case Dtype::FP16:
        return "fp16";
    case Dtype::FP8:
        return "fp8";
    case Dtype::FP32:
        return "fp32";
    }
    return "?";
}
size_t in_bytes(Dtype d)
{
    return d == Dtype::FP8 ? 1 : d == Dtype::FP32 ? 4 : 2;
}
// fp8 products are written as bf16: an fp8 output would need amax/scale handling that adds
// nothing to the power draw.
size_t out_bytes(Dtype d)
{
    return d == Dtype::FP32 ? 4 : 2;
}
int in_bits(Dtype d)
{
    return (int)in_bytes(d) * 8;
}

// Output encodings understood by the compare kernel and the host decoder.
enum OutKind { OUT_BF16 = 0, OUT_FP16 = 1, OUT_FP32 = 2 };
OutKind out_kind(Dtype d)
{
    return d == Dtype::FP32 ? OUT_FP32 : d == Dtype::FP16 ? OUT_FP16 : OUT_BF16;
}

// Tolerances for comparing a GPU product element with the fp64 reference:
// |gpu - ref| <= out_rel * |ref| + acc_rel * sum_k |a_k b_k|.
// out_rel covers the rounding of the fp32 accumulator into the output type (one ulp);
// acc_rel covers fp32 accumulation error over k terms. fp8 gets a looser acc_rel because
// Hopper's fp8 matrix units accumulate with fewer bits between promotions to fp32.
struct Tolerance {
    double out_rel, acc_rel;
};
Tolerance tolerance(Dtype d)
{
    switch (d) {
    case Dtype::BF16:
        return {0x1p-7, 1e-4};
    case Dtype::FP16:
        return {0x1p-10, 1e-4};
    case Dtype::FP8:
        return {0x1p-7, 1e-3};
    case Dtype::FP32:
        return {0x1p-22, 1e-5};
    }
    return {1, 1};
}

struct Options {
    double seconds = 30;
    bool all_gpus = true;
    std::vector<int> gpus;
    Dtype dtype = Dtype::BF16;
    int size = 8192;
    bool onoff = false;
    int on_ms = 0, off_ms = 0;
    long check_every = 50;
    bool quiet = false;
    bool strict_bitwise = false;
};

// ---------------------------------------------------------------------------------------
// Small helpers

double mono_s()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
int64_t wall_us()
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

volatile sig_atomic_t g_stop = 0;
void on_signal(int)
{
    g_stop = 1;
}

// Sleeps until monotonic time t (seconds), waking every 50 ms to notice a stop request.
void sleep_until(double t)
{
    for (;;) {
        double now = mono_s();
        if (now >= t || g_stop)
            return;
        double target = std::min(t, now + 0.05);
        struct timespec ts;
        ts.tv_sec = (time_t)target;
        ts.tv_nsec = (long)((target - (double)ts.tv_sec) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec += 1;
            ts.tv_nsec -= 1000000000L;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    }
}

std::string strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
std::string strf(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

// A JSON string literal through wattprof's one JSON writer (src/core/json.c): CUDA's error
// strings and device names are escaped, and invalid UTF-8 becomes U+FFFD.
std::string json_str(const std::string &s)
{
    char *buf = nullptr;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return "null";
    int rc = wp_json_write_string(f, s.c_str());
    fclose(f);
    std::string o = rc == 0 && buf ? std::string(buf, len) : std::string("null");
    free(buf);
    return o;
}

// A JSON number, or null where the value is missing (NaN/inf), never a made-up 0.
std::string json_num(double v)
{
    return std::isfinite(v) ? strf("%.6g", v) : std::string("null");
}

// ---------------------------------------------------------------------------------------
// Phase marks for `wattprof run` go through libwattprof (include/wattprof/marks.h): it never
// blocks and a failure only comes back as -1, which a burn ignores (it must not stall or die
// because nobody is listening).

std::string burn_begin_counts(int gpus, int size, int bits, double seconds, long check_every,
                              int on_ms, int off_ms)
{
    return strf("gpus=%d size=%d bits=%d seconds=%.3f check_every=%ld on_ms=%d off_ms=%d", gpus,
                size, bits, seconds, check_every, on_ms, off_ms);
}

std::string burn_end_counts(double flops, unsigned long long errors, int gpus_ok)
{
    return strf("flops=%.0f errors=%llu gpus_ok=%d", flops, errors, gpus_ok);
}

// ---------------------------------------------------------------------------------------
// Host decoders of the raw bit patterns copied back from the GPU (checked against CUDA's own
// conversions by --self-test).

double decode_fp16(uint16_t b)
{
    int s = b >> 15, e = (b >> 10) & 0x1f, m = b & 0x3ff;
    double v;
    if (e == 0)
        v = std::ldexp((double)m, -24);
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = std::ldexp((double)(1024 + m), e - 25);
    return s ? -v : v;
}
double decode_bf16(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
// E4M3 "fn" variant used by CUDA: no infinities, S.1111.111 is NaN, bias 7.
double decode_e4m3(uint8_t b)
{
    int s = b >> 7, e = (b >> 3) & 0xf, m = b & 7;
    double v;
    if (e == 0)
        v = std::ldexp((double)m, -9);
    else if (e == 15 && m == 7)
        v = NAN;
    else
        v = std::ldexp((double)(8 + m), e - 10);
    return s ? -v : v;
}
double decode_fp32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}
double decode_in(Dtype d, const unsigned char *p)
{
    uint16_t h;
    uint32_t w;
    switch (d) {
    case Dtype::BF16:
        memcpy(&h, p, 2);
        return decode_bf16(h);
    case Dtype::FP16:
        memcpy(&h, p, 2);
        return decode_fp16(h);
    case Dtype::FP8:
        return decode_e4m3(p[0]);
    case Dtype::FP32:
        memcpy(&w, p, 4);
        return decode_fp32(w);
    }
    return NAN;
}
double decode_out(Dtype d, const unsigned char *p)
{
    uint16_t h;
    uint32_t w;
    switch (out_kind(d)) {
    case OUT_BF16:
        memcpy(&h, p, 2);
        return decode_bf16(h);
    case OUT_FP16:
        memcpy(&h, p, 2);
        return decode_fp16(h);
    case OUT_FP32:
        memcpy(&w, p, 4);
        return decode_fp32(w);
    }
    return NAN;
}

// ---------------------------------------------------------------------------------------
// Device code

__device__ __forceinline__ unsigned long long mix64(unsigned long long z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

template <typename T> __device__ T from_float(float f);
template <> __device__ __nv_bfloat16 from_float<__nv_bfloat16>(float f)
{
    return __float2bfloat16_rn(f);
}
template <> __device__ __half from_float<__half>(float f)
{
    return __float2half_rn(f);
}
template <> __device__ __nv_fp8_e4m3 from_float<__nv_fp8_e4m3>(float f)
{
    return __nv_fp8_e4m3(f);
}
template <> __device__ float from_float<float>(float f)
{
    return f;
}

// Uniform in [-1, 1) with 24 random mantissa bits, so every input bit toggles.
template <typename T> __global__ void fill_random(T *p, size_t n, unsigned long long seed)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        unsigned long long h = mix64(seed ^ mix64(i));
        float u = (float)(h >> 40) * 0x1p-24f;
        p[i] = from_float<T>(2.0f * u - 1.0f);
    }
}

__device__ __forceinline__ float out_to_float(unsigned short b, int kind)
{
    return kind == OUT_FP16 ? __half2float(__ushort_as_half(b))
                            : __uint_as_float((unsigned)b << 16);
}
__device__ __forceinline__ float out_to_float(unsigned int b, int)
{
    return __uint_as_float(b);
}

// counts[0]: elements whose bits differ from the reference product; counts[1]: elements
// outside the tolerance (NaN included); counts[2]: NaN elements.
template <typename U>
__global__ void compare_out(const U *out, const U *ref, size_t n, int kind, float tol_abs,
                            float tol_rel, unsigned long long *counts)
{
    unsigned long long diff = 0, bad = 0, nan = 0;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        U a = out[i], r = ref[i];
        float fa = out_to_float(a, kind);
        if (isnan(fa))
            nan++;
        if (a != r) {
            diff++;
            float fr = out_to_float(r, kind);
            if (!(fabsf(fa - fr) <= tol_abs + tol_rel * fabsf(fr)))
                bad++;
        } else if (isnan(fa)) {
            bad++;
        }
    }
    if (diff)
        atomicAdd(&counts[0], diff);
    if (bad)
        atomicAdd(&counts[1], bad);
    if (nan)
        atomicAdd(&counts[2], nan);
}

// ---------------------------------------------------------------------------------------
// One GPU

enum class Status { PENDING, READY, SETUP_FAILED, RUN_FAILED, HUNG, OK };
const char *status_name(Status s)
{
    switch (s) {
    case Status::PENDING:
        return "pending";
    case Status::READY:
        return "ready";
    case Status::SETUP_FAILED:
        return "setup-failed";
    case Status::RUN_FAILED:
        return "run-failed";
    case Status::HUNG:
        return "hung";
    case Status::OK:
        return "ok";
    }
    return "?";
}

// Everything allocated on one GPU; freed in the destructor, ignoring errors (the GPU may be
// gone by then).
struct GpuRes {
    cudaStream_t stream = nullptr;
    cublasHandle_t blas = nullptr;
    cublasLtHandle_t lt = nullptr;
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
    cublasLtMatmulAlgo_t algo;
    void *A = nullptr, *B = nullptr, *C = nullptr, *R = nullptr, *ws = nullptr;
    unsigned long long *counts = nullptr;
    size_t ws_bytes = 32u << 20; // what cuBLAS recommends for Hopper
    cudaEvent_t ev[4] = {nullptr, nullptr, nullptr, nullptr};
    cudaEvent_t t0 = nullptr, t1 = nullptr;
    ~GpuRes()
    {
        if (stream)
            cudaStreamSynchronize(stream);
        for (cudaEvent_t e : ev)
            if (e)
                cudaEventDestroy(e);
        if (t0)
            cudaEventDestroy(t0);
        if (t1)
            cudaEventDestroy(t1);
        if (la)
            cublasLtMatrixLayoutDestroy(la);
        if (lb)
            cublasLtMatrixLayoutDestroy(lb);
        if (lc)
            cublasLtMatrixLayoutDestroy(lc);
        if (op)
            cublasLtMatmulDescDestroy(op);
        if (lt)
            cublasLtDestroy(lt);
        if (blas)
            cublasDestroy(blas);
        for (void *p : {A, B, C, R, ws, (void *)counts})
            if (p)
                cudaFree(p);
        if (stream)
            cudaStreamDestroy(stream);
        cudaGetLastError();
    }
};

struct RefSample {
    int i, j;
    double ref, abs_sum; // fp64 dot product and sum of |a_k b_k|
};

struct Worker {
    int dev = 0;
    const Options *opt = nullptr;
    // identity
    std::string name, pci, uuid;
    int cc_major = 0, cc_minor = 0, sms = 0;
    // state
    Status status = Status::PENDING;
    bool in_setup = true;
    std::string error;
    std::atomic<unsigned long long> iters{0};
    std::atomic<bool> finished{false};
    // results
    unsigned long long checks = 0, bitdiff_elems = 0, bitdiff_checks = 0, tol_elems = 0,
                       nan_elems = 0;
    int ref_samples = 0, ref_fail_first = 0, ref_fail_last = 0;
    double ref_worst_first = NAN, ref_worst_last = NAN; // worst |err| / tolerance
    double gemm_ms = NAN, setup_s = NAN, busy_s = NAN, run_s = NAN;
    unsigned long long on_periods = 0;
    double on_ms_mean = NAN, on_ms_max = NAN;
    std::string note;

    unsigned long long errors() const
    {
        return tol_elems + (unsigned long long)ref_fail_first + (unsigned long long)ref_fail_last +
               (opt->strict_bitwise ? bitdiff_elems : 0);
    }

    void fail(const std::string &msg)
    {
        if (error.empty())
            error = msg;
        if (status != Status::SETUP_FAILED && status != Status::RUN_FAILED)
            status = in_setup ? Status::SETUP_FAILED : Status::RUN_FAILED;
    }
    bool cu(cudaError_t e, const char *what)
    {
        if (e == cudaSuccess)
            return true;
        std::string m = strf("%s: %s (%s)", what, cudaGetErrorName(e), cudaGetErrorString(e));
        if (e == cudaErrorMemoryAllocation)
            m += "; free GPU memory or use a smaller --size";
        else if (e == cudaErrorDevicesUnavailable)
            m += "; another process holds this GPU in exclusive mode";
        else if (e == cudaErrorLaunchFailure || e == cudaErrorIllegalAddress ||
                 e == cudaErrorECCUncorrectable || e == cudaErrorHardwareStackError)
            m += "; the GPU may have failed: check `dmesg` for Xid messages and nvidia-smi -q";
        fail(m);
        return false;
    }
    bool cb(cublasStatus_t s, const char *what)
    {
        if (s == CUBLAS_STATUS_SUCCESS)
            return true;
        fail(strf("%s: %s", what, cublasGetStatusString(s)));
        return false;
    }
};

struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    int setup_done = 0;
    bool go = false;
    double t_go = 0, deadline = 0;
};

size_t grid_for(int sms)
{
    return (size_t)std::max(1, sms) * 8;
}

bool launch_fill(Worker &w, GpuRes &r, void *p, size_t n, unsigned long long seed)
{
    unsigned grid = (unsigned)grid_for(w.sms);
    switch (w.opt->dtype) {
    case Dtype::BF16:
        fill_random<<<grid, 256, 0, r.stream>>>((__nv_bfloat16 *)p, n, seed);
        break;
    case Dtype::FP16:
        fill_random<<<grid, 256, 0, r.stream>>>((__half *)p, n, seed);
        break;
    case Dtype::FP8:
        fill_random<<<grid, 256, 0, r.stream>>>((__nv_fp8_e4m3 *)p, n, seed);
        break;
    case Dtype::FP32:
        fill_random<<<grid, 256, 0, r.stream>>>((float *)p, n, seed);
        break;
    }
    return w.cu(cudaGetLastError(), "launching the random fill kernel");
}

struct CompareTol {
    float abs_tol = 0, rel_tol = 0;
};

bool launch_compare(Worker &w, GpuRes &r, const CompareTol &t)
{
    size_t n = (size_t)w.opt->size * (size_t)w.opt->size;
    unsigned grid = (unsigned)grid_for(w.sms);
    int kind = out_kind(w.opt->dtype);
    if (kind == OUT_FP32)
        compare_out<<<grid, 256, 0, r.stream>>>((const unsigned int *)r.C,
                                                (const unsigned int *)r.R, n, kind, t.abs_tol,
                                                t.rel_tol, r.counts);
    else
        compare_out<<<grid, 256, 0, r.stream>>>((const unsigned short *)r.C,
                                                (const unsigned short *)r.R, n, kind, t.abs_tol,
                                                t.rel_tol, r.counts);
    return w.cu(cudaGetLastError(), "launching the compare kernel");
}

// One product C = A^T B (column-major, "TN": the layout cuBLASLt requires for fp8; used for
// every dtype so all of them run the same problem).
bool gemm(Worker &w, GpuRes &r)
{
    const float alpha = 1.0f, beta = 0.0f;
    int n = w.opt->size;
    if (w.opt->dtype == Dtype::FP8)
        return w.cb(cublasLtMatmul(r.lt, r.op, &alpha, r.A, r.la, r.B, r.lb, &beta, r.C, r.lc, r.C,
                                   r.lc, &r.algo, r.ws, r.ws_bytes, r.stream),
                    "cublasLtMatmul (fp8)");
    cudaDataType_t t = w.opt->dtype == Dtype::BF16   ? CUDA_R_16BF
                       : w.opt->dtype == Dtype::FP16 ? CUDA_R_16F
                                                     : CUDA_R_32F;
    return w.cb(cublasGemmEx(r.blas, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &alpha, r.A, t, n, r.B, t,
                             n, &beta, r.C, t, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                "cublasGemmEx");
}

bool setup_fp8(Worker &w, GpuRes &r)
{
    if (w.cc_major * 10 + w.cc_minor < 89) {
        w.fail(strf("fp8 matrix products need compute capability 8.9 or newer; this GPU is %d.%d: "
                    "use --dtype bf16",
                    w.cc_major, w.cc_minor));
        return false;
    }
    uint64_t n = (uint64_t)w.opt->size;
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    if (!w.cb(cublasLtCreate(&r.lt), "cublasLtCreate") ||
        !w.cb(cublasLtMatmulDescCreate(&r.op, CUBLAS_COMPUTE_32F, CUDA_R_32F),
              "cublasLtMatmulDescCreate (fp8)") ||
        !w.cb(cublasLtMatmulDescSetAttribute(r.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta),
              "setting TRANSA") ||
        !w.cb(cublasLtMatmulDescSetAttribute(r.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb),
              "setting TRANSB") ||
        !w.cb(cublasLtMatrixLayoutCreate(&r.la, CUDA_R_8F_E4M3, n, n, (int64_t)n),
              "fp8 layout of A") ||
        !w.cb(cublasLtMatrixLayoutCreate(&r.lb, CUDA_R_8F_E4M3, n, n, (int64_t)n),
              "fp8 layout of B") ||
        !w.cb(cublasLtMatrixLayoutCreate(&r.lc, CUDA_R_16BF, n, n, (int64_t)n), "bf16 layout of C"))
        return false;
    cublasLtMatmulPreference_t pref = nullptr;
    if (!w.cb(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate"))
        return false;
    size_t ws = r.ws_bytes;
    bool ok = w.cb(cublasLtMatmulPreferenceSetAttribute(
                       pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws),
                   "setting the workspace preference");
    cublasLtMatmulHeuristicResult_t res;
    memset(&res, 0, sizeof res);
    int found = 0;
    if (ok)
        ok = w.cb(cublasLtMatmulAlgoGetHeuristic(r.lt, r.op, r.la, r.lb, r.lc, r.lc, pref, 1, &res,
                                                 &found),
                  "cublasLtMatmulAlgoGetHeuristic (fp8 e4m3 x e4m3 -> bf16)");
    cublasLtMatmulPreferenceDestroy(pref);
    if (!ok)
        return false;
    if (found < 1 || res.state != CUBLAS_STATUS_SUCCESS) {
        w.fail("cuBLASLt offers no fp8 (e4m3) algorithm for this GPU and size: use --dtype bf16, "
               "or a --size that is a multiple of 16");
        return false;
    }
    // The same algorithm every time: that is what makes repeated products bitwise equal.
    r.algo = res.algo;
    return true;
}

// Reads the sampled elements of the product now in C and checks them against the fp64
// reference. Returns the number outside tolerance (or -1 on a CUDA error).
int check_samples(Worker &w, GpuRes &r, const std::vector<RefSample> &samples, double *worst)
{
    const Tolerance tol = tolerance(w.opt->dtype);
    size_t n = (size_t)w.opt->size, osz = out_bytes(w.opt->dtype);
    int fails = 0;
    *worst = 0;
    for (const RefSample &s : samples) {
        unsigned char raw[4] = {0, 0, 0, 0};
        size_t off = ((size_t)s.i + (size_t)s.j * n) * osz;
        if (!w.cu(cudaMemcpy(raw, (const unsigned char *)r.C + off, osz, cudaMemcpyDeviceToHost),
                  "reading a product element"))
            return -1;
        double got = decode_out(w.opt->dtype, raw);
        double lim = tol.out_rel * std::fabs(s.ref) + tol.acc_rel * s.abs_sum + 1e-30;
        double ratio = std::fabs(got - s.ref) / lim;
        if (!(ratio <= 1.0)) {
            fails++;
            if (fails <= 3)
                w.note += strf("%sC[%d,%d]=%.9g expected %.9g (tolerance %.3g)",
                               w.note.empty() ? "" : "; ", s.i, s.j, got, s.ref, lim);
        }
        if (!(ratio <= *worst))
            *worst = std::isnan(ratio) ? INFINITY : ratio;
    }
    return fails;
}

bool read_counts(Worker &w, GpuRes &r)
{
    unsigned long long c[3] = {0, 0, 0};
    if (!w.cu(cudaMemcpy(c, r.counts, sizeof c, cudaMemcpyDeviceToHost), "reading check counters"))
        return false;
    w.bitdiff_elems = c[0];
    w.tol_elems = c[1];
    w.nan_elems = c[2];
    return true;
}

// Setup: context, handles, random inputs, the first (reference) product, the fp64 sample
// reference and a timing of a few products. Returns false with w.error set.
bool setup(Worker &w, GpuRes &r, std::vector<RefSample> &samples, CompareTol &ctol)
{
    const Options &o = *w.opt;
    size_t n = (size_t)o.size, nn = n * n;
    if (!w.cu(cudaSetDevice(w.dev), "cudaSetDevice"))
        return false;
    cudaDeviceProp p;
    if (!w.cu(cudaGetDeviceProperties(&p, w.dev), "cudaGetDeviceProperties"))
        return false;
    w.name = p.name;
    w.cc_major = p.major;
    w.cc_minor = p.minor;
    w.sms = p.multiProcessorCount;
    char bus[32] = "";
    if (cudaDeviceGetPCIBusId(bus, sizeof bus, w.dev) == cudaSuccess)
        w.pci = bus;
    cudaGetLastError();
    // The form nvidia-smi and NVML print, so reports can be joined with a wattprof trace.
    std::string u = "GPU";
    for (int k = 0; k < 16; k++) {
        if (k == 0 || k == 4 || k == 6 || k == 8 || k == 10)
            u += '-';
        u += strf("%02x", (unsigned char)p.uuid.bytes[k]);
    }
    w.uuid = u;

    size_t need = 2 * nn * in_bytes(o.dtype) + 2 * nn * out_bytes(o.dtype) + r.ws_bytes + 4096;
    size_t free_b = 0, total_b = 0;
    if (!w.cu(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo"))
        return false;
    if (need > free_b / 10 * 9) {
        w.fail(strf("--size %d needs %.2f GiB on the GPU but only %.2f GiB are free: use a "
                    "smaller --size",
                    o.size, (double)need / (1 << 30), (double)free_b / (1 << 30)));
        return false;
    }
    if (!w.cu(cudaStreamCreateWithFlags(&r.stream, cudaStreamNonBlocking), "cudaStreamCreate"))
        return false;
    // Blocking-sync events: the host thread sleeps while it waits instead of spinning a core,
    // so the burn's own CPU draw stays small and does not skew node power.
    for (cudaEvent_t &e : r.ev)
        if (!w.cu(cudaEventCreateWithFlags(&e, cudaEventBlockingSync | cudaEventDisableTiming),
                  "cudaEventCreate"))
            return false;
    if (!w.cu(cudaEventCreateWithFlags(&r.t0, cudaEventBlockingSync), "cudaEventCreate") ||
        !w.cu(cudaEventCreateWithFlags(&r.t1, cudaEventBlockingSync), "cudaEventCreate"))
        return false;
    if (!w.cu(cudaMalloc(&r.A, nn * in_bytes(o.dtype)), "cudaMalloc(A)") ||
        !w.cu(cudaMalloc(&r.B, nn * in_bytes(o.dtype)), "cudaMalloc(B)") ||
        !w.cu(cudaMalloc(&r.C, nn * out_bytes(o.dtype)), "cudaMalloc(C)") ||
        !w.cu(cudaMalloc(&r.R, nn * out_bytes(o.dtype)), "cudaMalloc(reference)") ||
        !w.cu(cudaMalloc(&r.ws, r.ws_bytes), "cudaMalloc(workspace)") ||
        !w.cu(cudaMalloc((void **)&r.counts, 3 * sizeof(unsigned long long)),
              "cudaMalloc(counters)"))
        return false;
    if (!w.cu(cudaMemsetAsync(r.counts, 0, 3 * sizeof(unsigned long long), r.stream),
              "cudaMemset(counters)"))
        return false;
    // Poison the outputs: an unwritten element then shows up as a reference mismatch.
    if (!w.cu(cudaMemsetAsync(r.C, 0xff, nn * out_bytes(o.dtype), r.stream), "cudaMemset(C)"))
        return false;
    unsigned long long seed = 0x5eed0000ull + (unsigned long long)w.dev * 7919ull;
    if (!launch_fill(w, r, r.A, nn, seed * 2 + 1) || !launch_fill(w, r, r.B, nn, seed * 2 + 2))
        return false;

    if (o.dtype == Dtype::FP8) {
        if (!setup_fp8(w, r))
            return false;
    } else {
        if (!w.cb(cublasCreate(&r.blas), "cublasCreate") ||
            !w.cb(cublasSetStream(r.blas, r.stream), "cublasSetStream") ||
            // A fixed workspace on one stream keeps cuBLAS bitwise reproducible whatever
            // CUBLAS_WORKSPACE_CONFIG says; default math mode keeps fp32 out of TF32.
            !w.cb(cublasSetWorkspace(r.blas, r.ws, r.ws_bytes), "cublasSetWorkspace") ||
            !w.cb(cublasSetMathMode(r.blas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode"))
            return false;
    }

    // The first product is the reference every later one is compared with.
    if (!gemm(w, r) ||
        !w.cu(
            cudaMemcpyAsync(r.R, r.C, nn * out_bytes(o.dtype), cudaMemcpyDeviceToDevice, r.stream),
            "copying the reference product") ||
        !w.cu(cudaStreamSynchronize(r.stream), "first product"))
        return false;

    // fp64 reference of sampled elements: C[i,j] = sum_k A[k + i n] B[k + j n].
    size_t isz = in_bytes(o.dtype);
    std::vector<unsigned char> col_a(n * isz), col_b(n * isz);
    std::vector<std::pair<int, int>> pos = {
        {0, 0}, {o.size - 1, o.size - 1}, {0, o.size - 1}, {o.size - 1, 0}};
    uint64_t lcg = (uint64_t)0x9e3779b97f4a7c15ull ^ (uint64_t)w.dev;
    while (pos.size() < 64) {
        lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
        int i = (int)((lcg >> 33) % (uint64_t)o.size);
        lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
        int j = (int)((lcg >> 33) % (uint64_t)o.size);
        pos.push_back({i, j});
    }
    double abs_sum_max = 0;
    int zeros_a = 0;
    for (auto [i, j] : pos) {
        if (!w.cu(cudaMemcpy(col_a.data(), (const unsigned char *)r.A + (size_t)i * n * isz,
                             n * isz, cudaMemcpyDeviceToHost),
                  "reading inputs back") ||
            !w.cu(cudaMemcpy(col_b.data(), (const unsigned char *)r.B + (size_t)j * n * isz,
                             n * isz, cudaMemcpyDeviceToHost),
                  "reading inputs back"))
            return false;
        double ref = 0, abs_sum = 0;
        for (size_t k = 0; k < n; k++) {
            double a = decode_in(o.dtype, &col_a[k * isz]);
            double b = decode_in(o.dtype, &col_b[k * isz]);
            if (a == 0)
                zeros_a++;
            ref += a * b;
            abs_sum += std::fabs(a * b);
        }
        samples.push_back({i, j, ref, abs_sum});
        abs_sum_max = std::max(abs_sum_max, abs_sum);
    }
    if (zeros_a == (int)(pos.size() * n)) {
        w.fail("the random inputs read back as all zeros: the fill kernel did not run");
        return false;
    }
    w.ref_samples = (int)samples.size();
    int f = check_samples(w, r, samples, &w.ref_worst_first);
    if (f < 0)
        return false;
    w.ref_fail_first = f;
    if (f == (int)samples.size())
        w.note += "; every sampled element differs from the fp64 reference: suspect the check "
                  "(layout) before the GPU";

    // Repeat-compare tolerance, used only where bits differ: two valid products differ by at
    // most twice the reference tolerance.
    const Tolerance tol = tolerance(o.dtype);
    ctol.rel_tol = (float)(2 * tol.out_rel);
    ctol.abs_tol = (float)(2 * tol.acc_rel * abs_sum_max * 1.5);

    // Time a few products (they also warm up clocks and any lazily loaded kernels).
    const int reps = 3;
    if (!w.cu(cudaEventRecord(r.t0, r.stream), "cudaEventRecord"))
        return false;
    for (int k = 0; k < reps; k++)
        if (!gemm(w, r))
            return false;
    if (!w.cu(cudaEventRecord(r.t1, r.stream), "cudaEventRecord") ||
        !w.cu(cudaEventSynchronize(r.t1), "timing products"))
        return false;
    float ms = 0;
    if (!w.cu(cudaEventElapsedTime(&ms, r.t0, r.t1), "cudaEventElapsedTime"))
        return false;
    w.gemm_ms = ms / reps;
    // A first repeat check before the run: a nondeterministic algorithm shows up here.
    if (!launch_compare(w, r, ctol) || !w.cu(cudaStreamSynchronize(r.stream), "first compare") ||
        !read_counts(w, r))
        return false;
    w.checks = 1;
    if (w.bitdiff_elems)
        w.bitdiff_checks = 1;
    return true;
}

void run_worker(Worker &w, Shared &sh)
{
    const Options &o = *w.opt;
    double t_setup0 = mono_s();
    {
        GpuRes r;
        std::vector<RefSample> samples;
        CompareTol ctol;
        bool ok = setup(w, r, samples, ctol);
        w.setup_s = mono_s() - t_setup0;
        if (ok)
            w.status = Status::READY;
        {
            std::unique_lock<std::mutex> lk(sh.mu);
            sh.setup_done++;
            sh.cv.notify_all();
            sh.cv.wait(lk, [&] { return sh.go || g_stop; });
        }
        w.in_setup = false;
        if (ok && !g_stop) {
            // Products in flight: the GPU always has the next one queued; in on/off mode only
            // one, so an ON window ends within about one product of its planned end.
            const unsigned long long depth = o.onoff ? 2 : 3;
            unsigned long long i = 0; // products launched in the run phase
            bool alive = true;
            auto launch_one = [&]() -> bool {
                if (i >= depth &&
                    !w.cu(cudaEventSynchronize(r.ev[i % depth]), "waiting for a product"))
                    return false;
                if (i >= depth)
                    w.iters.store(i - depth + 1, std::memory_order_relaxed);
                if (!gemm(w, r))
                    return false;
                if (!w.cu(cudaGetLastError(), "after launching a product"))
                    return false;
                if (o.check_every > 0 && (i + 1) % (unsigned long long)o.check_every == 0) {
                    if (!launch_compare(w, r, ctol))
                        return false;
                    w.checks++;
                }
                if (!w.cu(cudaEventRecord(r.ev[i % depth], r.stream), "cudaEventRecord"))
                    return false;
                i++;
                return true;
            };
            auto drain = [&]() -> bool {
                if (i == 0)
                    return true;
                if (!w.cu(cudaEventSynchronize(r.ev[(i - 1) % depth]), "waiting for a product"))
                    return false;
                w.iters.store(i, std::memory_order_relaxed);
                return true;
            };
            double t0 = sh.t_go;
            if (!o.onoff) {
                while (alive && !g_stop && mono_s() < sh.deadline)
                    alive = launch_one();
                alive = alive && drain();
                w.busy_s = mono_s() - t0;
            } else {
                const double on = o.on_ms * 1e-3, off = o.off_ms * 1e-3;
                const double est = w.gemm_ms * 1e-3;
                double on_sum = 0;
                for (unsigned long long k = 0; alive && !g_stop; k++) {
                    double t_on = t0 + (double)k * (on + off);
                    if (t_on >= sh.deadline)
                        break;
                    sleep_until(t_on);
                    if (g_stop)
                        break;
                    double t_end = std::min(t_on + on, sh.deadline);
                    double start = mono_s();
                    // Launch while the product would still finish inside the ON window,
                    // counting the one already queued (depth 2); at least one per window.
                    unsigned long long first = i;
                    while (alive && !g_stop &&
                           (i == first || mono_s() + (double)depth * est <= t_end))
                        alive = launch_one();
                    alive = alive && drain();
                    double len = mono_s() - start;
                    on_sum += len;
                    w.on_periods++;
                    w.on_ms_max =
                        std::isnan(w.on_ms_max) ? len * 1e3 : std::max(w.on_ms_max, len * 1e3);
                }
                w.busy_s = on_sum;
                if (w.on_periods)
                    w.on_ms_mean = on_sum / (double)w.on_periods * 1e3;
            }
            w.run_s = mono_s() - t0;
            // The last product gets a repeat check and a reference check too.
            if (alive && i > 0) {
                alive = launch_compare(w, r, ctol) &&
                        w.cu(cudaStreamSynchronize(r.stream), "last compare");
                if (alive)
                    w.checks++;
            }
            if (alive)
                alive = read_counts(w, r);
            if (alive) {
                int f = check_samples(w, r, samples, &w.ref_worst_last);
                alive = f >= 0;
                if (alive)
                    w.ref_fail_last = f;
            }
            if (alive) {
                w.status = Status::OK;
                if (w.bitdiff_elems)
                    w.note += strf("%sproducts were not bitwise reproducible (%llu elements "
                                   "differed); compared with a tolerance instead",
                                   w.note.empty() ? "" : "; ", w.bitdiff_elems);
            }
        } else if (ok) {
            w.status = Status::OK; // stopped before the run began
        }
    } // GpuRes freed here, before we say we are finished
    {
        std::lock_guard<std::mutex> lk(sh.mu);
        w.finished = true;
    }
    sh.cv.notify_all();
}

// ---------------------------------------------------------------------------------------
// Command line

void usage(FILE *f)
{
    fputs("usage: wattprof-burn [--seconds S] [--gpus LIST|all] [--dtype T] [--size N]\n"
          "         [--pattern steady|onoff:ON_MS:OFF_MS] [--check-every K]\n"
          "         [--strict-bitwise] [--quiet]\n"
          "       wattprof-burn --self-test | --help\n"
          "\n"
          "Drives GPUs to their power envelope with large matrix products (cuBLAS, and\n"
          "cuBLASLt for fp8) and checks every result, like gpu-burn. One thread per GPU.\n"
          "\n"
          "  --seconds S      how long to burn, after setup (default 30)\n"
          "  --gpus LIST      CUDA device ordinals, e.g. 0,1 (default all); the report\n"
          "                   gives each GPU's PCI bus id and UUID to match other tools\n"
          "  --dtype T        bf16 (default), fp16 or fp32 (cublasGemmEx, fp32\n"
          "                   accumulation), or fp8 (e4m3 in, bf16 out, cuBLASLt; compute\n"
          "                   capability 8.9+). bf16 and fp8 draw the most power.\n"
          "  --size N         matrix size, a multiple of 16 in 64..32768 (default 8192:\n"
          "                   one product is 2 N^3 = 1.1e12 floating-point operations)\n"
          "  --pattern P      steady (default): products back to back for the whole run.\n"
          "                   onoff:ON_MS:OFF_MS: ON_MS of back-to-back products, then\n"
          "                   OFF_MS idle, repeated on one schedule for all GPUs. Shows\n"
          "                   what a 20 ms power trace resolves and a 1 s average hides.\n"
          "  --check-every K  compare the product with the GPU's first one every K\n"
          "                   products (default 50; 0: only at the start and the end)\n"
          "  --strict-bitwise count any bit that differs from the first product as an\n"
          "                   error (by default a tolerance decides where bits differ)\n"
          "  --quiet          no progress lines; the table and JSON line still print\n"
          "  --self-test      check the host-side helpers (no GPU needed) and exit\n"
          "\n"
          "Checking: inputs are random, uniform in [-1,1), made on the GPU (never zeros:\n"
          "zeros draw less power). Every product is the same one, compared with the\n"
          "first bit for bit (cuBLAS repeats a fixed algorithm on one stream exactly);\n"
          "where bits differ a tolerance decides and the report says so. 64 sampled\n"
          "elements of the first and last product are checked against fp64 dot products\n"
          "computed on the host from the same inputs.\n"
          "\n"
          "Marks: under `wattprof run` (WATTPROF_SOCKET set) it sends `begin burn ...`\n"
          "once every GPU is ready and `end burn flops=...` at the end.\n"
          "\n"
          "Output: a table per GPU (iterations, TFLOP/s while busy, errors), then one\n"
          "JSON line. Exit status: 0 every GPU ran with zero errors; 4 wrong results\n"
          "found; 3 CUDA/cuBLAS setup failed on a GPU; 1 a GPU failed or hung while\n"
          "running; 2 bad arguments.\n"
          "\n"
          "Example: wattprof run -o burn.wptrace -- wattprof-burn --seconds 60\n",
          f);
}

bool parse_long(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s)
        return false;
    char *end = nullptr;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool parse_double(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s)
        return false;
    char *end = nullptr;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !std::isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool parse_gpus(const char *s, Options &o)
{
    if (!strcmp(s, "all")) {
        o.all_gpus = true;
        return true;
    }
    o.all_gpus = false;
    o.gpus.clear();
    std::string cur;
    std::string str = s;
    str += ',';
    for (char c : str) {
        if (c == ',') {
            long v;
            if (!parse_long(cur.c_str(), 0, 1023, &v))
                return false;
            if (std::find(o.gpus.begin(), o.gpus.end(), (int)v) == o.gpus.end())
                o.gpus.push_back((int)v);
            cur.clear();
        } else {
            cur += c;
        }
    }
    return !o.gpus.empty();
}

bool parse_pattern(const char *s, Options &o)
{
    if (!strcmp(s, "steady")) {
        o.onoff = false;
        return true;
    }
    if (strncmp(s, "onoff:", 6))
        return false;
    const char *a = s + 6, *colon = strchr(a, ':');
    if (!colon)
        return false;
    std::string on(a, (size_t)(colon - a));
    long v1, v2;
    if (!parse_long(on.c_str(), 1, 600000, &v1) || !parse_long(colon + 1, 1, 600000, &v2))
        return false;
    o.onoff = true;
    o.on_ms = (int)v1;
    o.off_ms = (int)v2;
    return true;
}

// Where argument errors go; the self-test points it at /dev/null.
FILE *g_err = stderr;

// 0: run; 1: exit 0 (help printed); 2: bad arguments (message printed); 5: self-test.
int parse_args(int argc, char **argv, Options &o)
{
    for (int k = 1; k < argc; k++) {
        // Both "--size 4096" and "--size=4096".
        std::string a = argv[k];
        const char *inline_v = nullptr;
        size_t eq = a.find('=');
        if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
            inline_v = argv[k] + eq + 1;
            a.resize(eq);
        }
        auto need = [&](const char **v) -> bool {
            if (inline_v) {
                *v = inline_v;
                return true;
            }
            if (k + 1 >= argc) {
                fprintf(g_err, "wattprof-burn: %s needs a value (see --help)\n", a.c_str());
                return false;
            }
            *v = argv[++k];
            return true;
        };
        const char *v = nullptr;
        if (a == "-h" || a == "--help") {
            usage(stdout);
            return 1;
        } else if (a == "--self-test") {
            return 5;
        } else if (a == "--quiet" || a == "-q") {
            o.quiet = true;
        } else if (a == "--strict-bitwise") {
            o.strict_bitwise = true;
        } else if (a == "--seconds") {
            if (!need(&v))
                return 2;
            if (!parse_double(v, 0.0, 30 * 86400.0, &o.seconds)) {
                fprintf(g_err,
                        "wattprof-burn: --seconds wants a number of seconds >= 0, not "
                        "'%s'\n",
                        v);
                return 2;
            }
        } else if (a == "--gpus") {
            if (!need(&v))
                return 2;
            if (!parse_gpus(v, o)) {
                fprintf(g_err,
                        "wattprof-burn: --gpus wants 'all' or device ordinals like "
                        "0,1, not '%s'\n",
                        v);
                return 2;
            }
        } else if (a == "--dtype") {
            if (!need(&v))
                return 2;
            std::string d = v;
            if (d == "bf16")
                o.dtype = Dtype::BF16;
            else if (d == "fp16")
                o.dtype = Dtype::FP16;
            else if (d == "fp8")
                o.dtype = Dtype::FP8;
            else if (d == "fp32")
                o.dtype = Dtype::FP32;
            else {
                fprintf(g_err,
                        "wattprof-burn: --dtype wants bf16, fp16, fp8 or fp32, not "
                        "'%s'\n",
                        v);
                return 2;
            }
        } else if (a == "--size") {
            if (!need(&v))
                return 2;
            long n;
            if (!parse_long(v, 64, 32768, &n) || n % 16) {
                fprintf(g_err,
                        "wattprof-burn: --size wants a multiple of 16 from 64 to 32768, "
                        "not '%s'\n",
                        v);
                return 2;
            }
            o.size = (int)n;
        } else if (a == "--pattern") {
            if (!need(&v))
                return 2;
            if (!parse_pattern(v, o)) {
                fprintf(g_err,
                        "wattprof-burn: --pattern wants steady or onoff:ON_MS:OFF_MS "
                        "(e.g. onoff:100:100), not '%s'\n",
                        v);
                return 2;
            }
        } else if (a == "--check-every") {
            if (!need(&v))
                return 2;
            if (!parse_long(v, 0, 1000000000L, &o.check_every)) {
                fprintf(g_err, "wattprof-burn: --check-every wants a count >= 0, not '%s'\n", v);
                return 2;
            }
        } else {
            fprintf(g_err, "wattprof-burn: unknown argument '%s' (see --help)\n", argv[k]);
            return 2;
        }
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// Host-only self test (no GPU needed): decoders against CUDA's own conversions, argument
// parsing and the mark sender.

int self_test()
{
    int bad = 0;
    auto expect = [&](bool c, const char *what) {
        if (!c) {
            fprintf(stderr, "self-test FAILED: %s\n", what);
            bad++;
        }
    };
    for (unsigned b = 0; b < 65536; b++) {
        __half_raw hr;
        hr.x = (unsigned short)b;
        double mine = decode_fp16((uint16_t)b), cuda = (double)__half2float(__half(hr));
        if (!(mine == cuda || (std::isnan(mine) && std::isnan(cuda)))) {
            expect(false, "fp16 decoder disagrees with __half2float");
            break;
        }
        __nv_bfloat16_raw br;
        br.x = (unsigned short)b;
        mine = decode_bf16((uint16_t)b);
        cuda = (double)__bfloat162float(__nv_bfloat16(br));
        if (!(mine == cuda || (std::isnan(mine) && std::isnan(cuda)))) {
            expect(false, "bf16 decoder disagrees with __bfloat162float");
            break;
        }
    }
    for (unsigned b = 0; b < 256; b++) {
        __nv_fp8_e4m3 f;
        f.__x = (__nv_fp8_storage_t)b;
        double mine = decode_e4m3((uint8_t)b), cuda = (double)(float)f;
        if (!(mine == cuda || (std::isnan(mine) && std::isnan(cuda)))) {
            fprintf(stderr, "e4m3 0x%02x: mine %g cuda %g\n", b, mine, cuda);
            expect(false, "e4m3 decoder disagrees with CUDA's conversion");
        }
    }
    {
        Options o;
        const char *argv1[] = {
            "b",    "--seconds", "15",           "--gpus",        "1,0,1", "--dtype=fp8", "--size",
            "4096", "--pattern", "onoff:100:50", "--check-every", "0",     "--quiet"};
        int rc = parse_args(13, (char **)argv1, o);
        expect(rc == 0 && o.seconds == 15 && !o.all_gpus && o.gpus.size() == 2 && o.gpus[0] == 1 &&
                   o.gpus[1] == 0 && o.dtype == Dtype::FP8 && o.size == 4096 && o.onoff &&
                   o.on_ms == 100 && o.off_ms == 50 && o.check_every == 0 && o.quiet,
               "parsing a full command line");
        const char *bads[][3] = {{"b", "--size", "100"},       {"b", "--size", "16"},
                                 {"b", "--dtype", "int8"},     {"b", "--pattern", "onoff:1"},
                                 {"b", "--pattern", "on:1:1"}, {"b", "--gpus", "0,x"},
                                 {"b", "--seconds", "-1"},     {"b", "--bogus", "1"}};
        FILE *null = fopen("/dev/null", "w");
        if (null)
            g_err = null;
        for (auto &bv : bads) {
            Options o2;
            if (parse_args(3, (char **)bv, o2) != 2) {
                fprintf(stderr, "accepted: %s %s\n", bv[1], bv[2]);
                expect(false, "bad argument accepted");
            }
        }
        g_err = stderr;
        if (null)
            fclose(null);
    }
    {
        expect(json_str("GPU \"0\"\n\xff") == "\"GPU \\\"0\\\"\\n\\ufffd\"",
               "escaping a JSON string (quotes, control characters, invalid UTF-8)");
        // The counts the burn sends must pass libwattprof's checks, or its marks never arrive.
        errno = 0;
        expect(wp_marks_point("burn", "not-a-count") == -1 && errno == EINVAL,
               "libwattprof refusing malformed counts");
        // Round trip through a real socket.
        char dir[] = "/tmp/wpburn-XXXXXX";
        if (mkdtemp(dir)) {
            std::string path = std::string(dir) + "/s";
            int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
            struct sockaddr_un sa;
            memset(&sa, 0, sizeof sa);
            sa.sun_family = AF_UNIX;
            memcpy(sa.sun_path, path.c_str(), path.size());
            if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
                setenv("WATTPROF_SOCKET", path.c_str(), 1);
                expect(wp_marks_begin("burn", burn_begin_counts(2, 8192, 16, 15.0, 10, 0, 0)
                                                  .c_str()) == 0,
                       "sending the begin mark");
                char got[600];
                ssize_t n = recv(fd, got, sizeof got - 1, MSG_DONTWAIT);
                got[n > 0 ? n : 0] = 0;
                expect(!strcmp(got, "begin burn gpus=2 size=8192 bits=16 seconds=15.000 "
                                    "check_every=10 on_ms=0 off_ms=0"),
                       "a mark arrives intact");
                expect(wp_marks_end("burn", burn_end_counts(1e15, 0, 2).c_str()) == 0,
                       "sending the end mark");
                unsetenv("WATTPROF_SOCKET");
            } else {
                expect(false, "binding a test socket");
            }
            if (fd >= 0)
                close(fd);
            unlink(path.c_str());
            rmdir(dir);
        }
        // Nobody listening: must return at once, without SIGPIPE.
        setenv("WATTPROF_SOCKET", "/nonexistent/wattprof.sock", 1);
        (void)wp_marks_end("burn", "flops=1");
        unsetenv("WATTPROF_SOCKET");
    }
    printf("self-test: %s\n", bad ? "FAILED" : "ok");
    return bad ? 1 : 0;
}

// ---------------------------------------------------------------------------------------

void print_report(const Options &o, const std::vector<std::unique_ptr<Worker>> &ws,
                  int64_t t_begin_us, int64_t t_end_us, int exit_code)
{
    const double flop = 2.0 * (double)o.size * (double)o.size * (double)o.size;
    std::string pattern = o.onoff ? strf("onoff:%d:%d", o.on_ms, o.off_ms) : "steady";
    printf("\n%-4s %-22s %-5s %10s %9s %8s %7s %7s  %s\n", "GPU", "name", "dtype", "iterations",
           "TFLOP/s", "busy_s", "checks", "errors", "status");
    double total_flops = 0;
    for (const auto &wp : ws) {
        const Worker &w = *wp;
        unsigned long long it = w.iters.load();
        double tf = w.busy_s > 0 ? (double)it * flop / w.busy_s / 1e12 : NAN;
        total_flops += (double)it * flop;
        printf("%-4d %-22.22s %-5s %10llu %9.1f %8.2f %7llu %7llu  %s\n", w.dev,
               w.name.empty() ? "?" : w.name.c_str(), dtype_name(o.dtype), it, tf,
               std::isnan(w.busy_s) ? 0.0 : w.busy_s, w.checks, w.errors(), status_name(w.status));
        if (!w.error.empty())
            printf("     error: %s\n", w.error.c_str());
        if (!w.note.empty())
            printf("     note: %s\n", w.note.c_str());
        if (o.onoff && w.on_periods)
            printf("     on periods: %llu, ON lasted %.1f ms on average (max %.1f; asked %d); "
                   "one product takes %.2f ms\n",
                   w.on_periods, w.on_ms_mean, w.on_ms_max, o.on_ms, w.gemm_ms);
    }
    std::string j = strf("{\"tool\":\"wattprof-burn\",\"dtype\":\"%s\",\"size\":%d,"
                         "\"pattern\":\"%s\",\"seconds\":%s,\"check_every\":%ld,"
                         "\"t_begin_us\":%" PRId64 ",\"t_end_us\":%" PRId64
                         ",\"flops\":%.0f,\"exit\":%d,\"gpus\":[",
                         dtype_name(o.dtype), o.size, pattern.c_str(), json_num(o.seconds).c_str(),
                         o.check_every, t_begin_us, t_end_us, total_flops, exit_code);
    bool first = true;
    for (const auto &wp : ws) {
        const Worker &w = *wp;
        unsigned long long it = w.iters.load();
        double tf = w.busy_s > 0 ? (double)it * flop / w.busy_s / 1e12 : NAN;
        j += first ? "" : ",";
        first = false;
        j += strf("{\"gpu\":%d,\"name\":%s,\"pci\":%s,\"uuid\":%s,\"status\":\"%s\",", w.dev,
                  json_str(w.name).c_str(), json_str(w.pci).c_str(), json_str(w.uuid).c_str(),
                  status_name(w.status));
        j += strf("\"iterations\":%llu,\"tflops\":%s,\"busy_s\":%s,\"run_s\":%s,"
                  "\"setup_s\":%s,\"gemm_ms\":%s,",
                  it, json_num(tf).c_str(), json_num(w.busy_s).c_str(), json_num(w.run_s).c_str(),
                  json_num(w.setup_s).c_str(), json_num(w.gemm_ms).c_str());
        j += strf("\"checks\":%llu,\"errors\":%llu,\"bitdiff_elems\":%llu,\"tol_elems\":%llu,"
                  "\"nan_elems\":%llu,\"ref_samples\":%d,\"ref_fail_first\":%d,"
                  "\"ref_fail_last\":%d,\"ref_worst_first\":%s,\"ref_worst_last\":%s,",
                  w.checks, w.errors(), w.bitdiff_elems, w.tol_elems, w.nan_elems, w.ref_samples,
                  w.ref_fail_first, w.ref_fail_last, json_num(w.ref_worst_first).c_str(),
                  json_num(w.ref_worst_last).c_str());
        j += strf("\"on_periods\":%llu,\"on_ms_mean\":%s,\"on_ms_max\":%s,", w.on_periods,
                  json_num(w.on_ms_mean).c_str(), json_num(w.on_ms_max).c_str());
        j += "\"error\":" + json_str(w.error) + ",\"note\":" + json_str(w.note) + "}";
    }
    j += "]}";
    printf("%s\n", j.c_str());
    fflush(stdout);
}

} // namespace

int main(int argc, char **argv)
{
    Options o;
    int pr = parse_args(argc, argv, o);
    if (pr == 1)
        return 0;
    if (pr == 2)
        return EXIT_BAD_ARGS;
    if (pr == 5)
        return self_test();
    setvbuf(stdout, nullptr, _IOLBF, 0);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    int ndev = 0;
    cudaError_t e = cudaGetDeviceCount(&ndev);
    if (e != cudaSuccess || ndev == 0) {
        fprintf(stderr,
                "wattprof-burn: no CUDA GPU usable: %s (%s). Check that the NVIDIA "
                "driver is loaded (nvidia-smi) and CUDA_VISIBLE_DEVICES.\n",
                e == cudaSuccess ? "0 devices" : cudaGetErrorName(e),
                e == cudaSuccess ? "none found" : cudaGetErrorString(e));
        // The JSON line still comes, so scripts that parse it see why nothing ran.
        printf("{\"tool\":\"wattprof-burn\",\"dtype\":\"%s\",\"size\":%d,\"exit\":%d,"
               "\"error\":%s,\"gpus\":[]}\n",
               dtype_name(o.dtype), o.size, (int)EXIT_SETUP,
               json_str(strf("no CUDA GPU usable: %s",
                             e == cudaSuccess ? "0 devices" : cudaGetErrorName(e)))
                   .c_str());
        return EXIT_SETUP;
    }
    if (o.all_gpus) {
        o.gpus.clear();
        for (int d = 0; d < ndev; d++)
            o.gpus.push_back(d);
    }
    for (int d : o.gpus)
        if (d >= ndev) {
            fprintf(g_err,
                    "wattprof-burn: --gpus names device %d but only %d CUDA device%s "
                    "visible (0..%d)\n",
                    d, ndev, ndev == 1 ? " is" : "s are", ndev - 1);
            return EXIT_BAD_ARGS;
        }

    std::string pattern = o.onoff ? strf("onoff:%d:%d", o.on_ms, o.off_ms) : "steady";
    if (!o.quiet)
        fprintf(stderr, "wattprof-burn: %zu GPU(s), %s, N=%d, %s, %.1f s, check every %ld\n",
                o.gpus.size(), dtype_name(o.dtype), o.size, pattern.c_str(), o.seconds,
                o.check_every);

    Shared sh;
    std::vector<std::unique_ptr<Worker>> ws;
    std::vector<std::thread> threads;
    for (int d : o.gpus) {
        ws.push_back(std::make_unique<Worker>());
        ws.back()->dev = d;
        ws.back()->opt = &o;
    }
    for (auto &w : ws) {
        Worker *wp = w.get();
        threads.emplace_back([wp, &sh] { run_worker(*wp, sh); });
    }

    // Wait for every GPU to finish setup (bounded: a GPU stuck in setup must not hold the
    // others back forever).
    const double setup_limit = 180;
    double t_setup = mono_s();
    {
        std::unique_lock<std::mutex> lk(sh.mu);
        while (sh.setup_done < (int)ws.size() && !g_stop && mono_s() - t_setup < setup_limit)
            sh.cv.wait_for(lk, std::chrono::milliseconds(200));
    }
    int ready = 0;
    for (auto &w : ws) {
        if (w->status == Status::READY)
            ready++;
        else if (w->status == Status::SETUP_FAILED && !o.quiet)
            fprintf(stderr, "wattprof-burn: GPU %d setup failed: %s\n", w->dev, w->error.c_str());
    }
    if (!o.quiet)
        for (auto &w : ws)
            if (w->status == Status::READY)
                fprintf(stderr,
                        "wattprof-burn: GPU %d %s ready in %.1f s: one product %.2f ms "
                        "(%.0f TFLOP/s)%s%s\n",
                        w->dev, w->name.c_str(), w->setup_s, w->gemm_ms,
                        2.0 * o.size * (double)o.size * o.size / (w->gemm_ms * 1e-3) / 1e12,
                        w->ref_fail_first ? ", REFERENCE CHECK FAILED" : "",
                        w->bitdiff_elems ? ", first repeat NOT bitwise equal" : "");
    if (o.onoff)
        for (auto &w : ws)
            if (w->status == Status::READY && w->gemm_ms * 2 > o.on_ms && !o.quiet)
                fprintf(stderr,
                        "wattprof-burn: GPU %d: one product takes %.1f ms, too long for "
                        "%d ms ON periods; use a smaller --size\n",
                        w->dev, w->gemm_ms, o.on_ms);

    int64_t t_begin_us = wall_us();
    if (ready > 0)
        (void)wp_marks_begin("burn", burn_begin_counts(ready, o.size, in_bits(o.dtype), o.seconds,
                                                       o.check_every, o.on_ms, o.off_ms)
                                         .c_str());
    {
        std::lock_guard<std::mutex> lk(sh.mu);
        sh.t_go = mono_s();
        sh.deadline = sh.t_go + o.seconds;
        sh.go = true;
    }
    sh.cv.notify_all();

    // Wait for the workers, printing progress; a GPU that never comes back is reported as
    // hung and the others' results are still printed.
    const double flop = 2.0 * (double)o.size * (double)o.size * (double)o.size;
    double hard_limit = sh.deadline + 120;
    bool stop_seen = false;
    double last_print = mono_s();
    std::vector<unsigned long long> last_iters(ws.size(), 0);
    bool all_done = false;
    for (;;) {
        {
            std::unique_lock<std::mutex> lk(sh.mu);
            sh.cv.wait_for(lk, std::chrono::milliseconds(250));
            all_done = std::all_of(ws.begin(), ws.end(), [](const std::unique_ptr<Worker> &w) {
                return w->finished.load();
            });
        }
        double now = mono_s();
        if (g_stop && !stop_seen) {
            // Workers notice a stop within one product; 10 s is ample, and less than the
            // grace `timeout -k` usually gives before SIGKILL.
            stop_seen = true;
            hard_limit = std::min(hard_limit, now + 10);
        }
        if (all_done || now > hard_limit)
            break;
        if (!o.quiet && now - last_print >= 5) {
            std::string line = strf("wattprof-burn: t=%.0fs", now - sh.t_go);
            for (size_t k = 0; k < ws.size(); k++) {
                unsigned long long it = ws[k]->iters.load();
                line += strf("  gpu%d %llu it %.0f TF/s", ws[k]->dev, it,
                             (double)(it - last_iters[k]) * flop / (now - last_print) / 1e12);
                last_iters[k] = it;
            }
            fprintf(stderr, "%s\n", line.c_str());
            last_print = now;
        }
    }
    int64_t t_end_us = wall_us();

    bool hung = false;
    for (auto &w : ws)
        if (!w->finished.load()) {
            hung = true;
            // The worker is stuck inside the driver; we exit right after the report.
            w->status = Status::HUNG;
            if (w->error.empty())
                w->error = "did not finish within 120 s of the deadline: the GPU may be hung "
                           "(check dmesg for Xid messages)";
        }

    double total_flops = 0;
    unsigned long long total_errors = 0;
    bool setup_failed = false, run_failed = hung;
    for (auto &w : ws) {
        total_flops += (double)w->iters.load() * flop;
        total_errors += w->errors();
        if (w->status == Status::SETUP_FAILED)
            setup_failed = true;
        if (w->status == Status::RUN_FAILED)
            run_failed = true;
    }
    int code = total_errors   ? EXIT_RESULT_ERRORS
               : setup_failed ? EXIT_SETUP
               : run_failed   ? EXIT_RUN_FAILED
                              : 0;
    if (ready > 0)
        (void)wp_marks_end("burn",
                           burn_end_counts(total_flops, total_errors,
                                           (int)std::count_if(ws.begin(), ws.end(),
                                                              [](const std::unique_ptr<Worker> &w) {
                                                                  return w->status == Status::OK;
                                                              }))
                               .c_str());
    print_report(o, ws, t_begin_us, t_end_us, code);
    if (hung) {
        // A thread stuck in the driver cannot be joined; leave without running destructors.
        fflush(stdout);
        fflush(stderr);
        _exit(code);
    }
    for (auto &t : threads)
        t.join();
    return code;
}
