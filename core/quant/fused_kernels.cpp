#include "quant/fused_kernels.h"

#include "kernels/fused_decode.h"
#include "kernels/fused_linear_q8.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_f32.h"
#include "util/error.h"
#include "util/parallel.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace qb {

namespace {

// A switch read once from the environment: on by default unless the variable is "0", or off
// by default unless it is "1".
bool envSwitch(const char *name, bool byDefault)
{
    const char *env = std::getenv(name);
    if (!env)
        return byDefault;
    return byDefault ? std::strcmp(env, "0") != 0 : std::strcmp(env, "1") == 0;
}

std::atomic<bool> &enabledFlag()
{
    static std::atomic<bool> flag{envSwitch("QB_FUSED", true)};
    return flag;
}

bool q8Environment()
{
    static const bool on = envSwitch("QB_ACT_Q8", false);
    return on;
}

bool bf16Environment()
{
    static const bool on = envSwitch("QB_COMPUTE_BF16", false);
    return on;
}

std::atomic<bool> &q8Flag()
{
    static std::atomic<bool> flag{q8Environment()};
    return flag;
}

std::atomic<bool> &bf16Flag()
{
    static std::atomic<bool> flag{bf16Environment()};
    return flag;
}

std::atomic<bool> &hugePagesFlag()
{
    static std::atomic<bool> flag{envSwitch("QB_HUGE_PAGES", true)};
    return flag;
}

// Multiply-adds per thread below which splitting the rows costs more than it saves. Through
// torch's pool (OpenMP, passive) waking the second thread cost ~30-40 us on the 2-core VM and
// this was 2^21 (a 640x256 GEMV took 50 us split against 17 us on one thread). util/parallel.h's
// workers are still spinning when kernels follow each other, as in a decoding step: there 2^18
// (a few microseconds of work) gave bench_generate at batch 64 ~20% more tokens/s than 2^21.
constexpr int64_t kMinWorkPerThread = 1 << 18;
// While generation keeps the workers spinning long (ScopedPoolSpin) a piece is handed over in
// about a microsecond, and the built-in reasoner's batch-1 products (64K-164K multiply-adds)
// gain from two threads: bench_generate --batches 1, five alternating rounds, 2,314-3,487 ->
// 3,166-3,999 tokens/s; batch 64 unchanged (docs/generation.md).
constexpr int64_t kMinWorkPerThreadSpinning = 1 << 16;

} // namespace

int64_t splitGrain(int64_t multiplyAddsPerItem)
{
    const int64_t minWork = poolSpinsLong() ? kMinWorkPerThreadSpinning : kMinWorkPerThread;
    return std::max<int64_t>(1, minWork / std::max<int64_t>(1, multiplyAddsPerItem));
}

bool fusedKernelsEnabled() { return enabledFlag().load(std::memory_order_relaxed); }
void setFusedKernelsEnabled(bool enabled) { enabledFlag().store(enabled); }
bool int8ActivationKernelsEnabled() { return q8Flag().load(std::memory_order_relaxed); }
void setInt8ActivationKernels(bool enabled) { q8Flag().store(enabled); }
bool bf16ComputeEnabled() { return bf16Flag().load(std::memory_order_relaxed); }
bool int8ActivationKernelsByEnvironment() { return q8Environment(); }
bool bf16ComputeByEnvironment() { return bf16Environment(); }
void setBf16Compute(bool enabled) { bf16Flag().store(enabled); }

bool bf16ComputeSupported()
{
    static const bool supported = kernels::gemm_bf16_supported();
    return supported && activeKernelPath() == kernels::KernelPath::Avx512;
}

// Both take effect on the fused path only (QB_FUSED=0 leaves torch's arithmetic, whatever the
// switches say), so the tag names them only there.
bool bf16ComputeActive()
{
    return bf16ComputeEnabled() && bf16ComputeSupported() && fusedKernelsEnabled();
}

std::string resultArithmeticTag()
{
    return resultArithmeticTag(std::nullopt, std::nullopt);
}

std::string resultArithmeticTag(std::optional<bool> int8Activations, std::optional<bool> bf16)
{
    const bool q8 = int8Activations.value_or(int8ActivationKernelsEnabled());
    std::string tag = q8 && fusedKernelsEnabled() ? "act-q8" : "";
    if (bf16.value_or(bf16ComputeEnabled()) && bf16ComputeSupported() && fusedKernelsEnabled())
        tag += tag.empty() ? "bf16" : "+bf16";
    return tag;
}

ArithmeticScope::ArithmeticScope(std::optional<bool> int8Activations, std::optional<bool> bf16)
    : m_int8Activations(int8ActivationKernelsEnabled()), m_bf16(bf16ComputeEnabled())
{
    if (int8Activations)
        setInt8ActivationKernels(*int8Activations);
    if (bf16)
        setBf16Compute(*bf16);
}

ArithmeticScope::~ArithmeticScope()
{
    setInt8ActivationKernels(m_int8Activations);
    setBf16Compute(m_bf16);
}

bool hugePageWeightsEnabled() { return hugePagesFlag().load(std::memory_order_relaxed); }
void setHugePageWeights(bool enabled) { hugePagesFlag().store(enabled); }

std::string transparentHugePageMode()
{
    // The line reads e.g. "always [madvise] never": the bracketed word is the mode.
    std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string line;
    if (!std::getline(in, line))
        return "unknown";
    const auto open = line.find('['), close = line.find(']');
    return open != std::string::npos && close > open ? line.substr(open + 1, close - open - 1)
                                                     : "unknown";
}

bool rowsLayoutPays(int64_t rowBytes, int64_t denseRowBytes)
{
    return rowBytes * 100 <= denseRowBytes * 103;
}

at::Tensor packedWeightStorage(const at::Tensor &t)
{
    constexpr int64_t kHugePage = int64_t(2) << 20;
    const at::Tensor c = t.contiguous();
    const int64_t bytes = c.numel() * static_cast<int64_t>(c.element_size());
#if defined(__linux__)
    if (!c.device().is_cpu() || bytes < kHugePage || !hugePageWeightsEnabled())
        return c;
    // A fresh mapping (never touched, so its pages are faulted in after the advice), one huge
    // page longer than needed so that the data can start on a 2 MiB boundary.
    const size_t length = static_cast<size_t>((bytes + kHugePage - 1) / kHugePage * kHugePage
                                              + kHugePage);
    void *base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return c;
    const auto start = (reinterpret_cast<uintptr_t>(base) + kHugePage - 1)
        / static_cast<uintptr_t>(kHugePage) * static_cast<uintptr_t>(kHugePage);
    void *data = reinterpret_cast<void *>(start);
    // A refusal (THP off, no huge page free) leaves ordinary pages, which are only slower.
    (void)madvise(data, length - (start - reinterpret_cast<uintptr_t>(base)), MADV_HUGEPAGE);
    std::memcpy(data, c.data_ptr(), static_cast<size_t>(bytes));
    return at::from_blob(
        data, c.sizes(), [base, length](void *) { munmap(base, length); }, c.options());
#else
    (void)bytes;
    return c;
#endif
}

kernels::KernelPath activeKernelPath()
{
    try {
        return kernels::active_kernel_path();
    } catch (const std::invalid_argument &e) {
        throw Error(e.what());
    }
}

namespace {

// y = x Wᵀ + b for many input rows: W decoded one panel of 32 output rows at a time into a
// per-thread scratch (kernels/fused_decode.h), packed there and multiplied over every input row
// (kernels/gemm_f32.h). The weights are the format's dequantized floats, so y has the bits of
// dequantize + gemm_f32, without the whole float32 weight being written out and read back.
// A panel is decoded and packed eight rows at a time, so the decoded rows (8 x cols floats) and
// the panel (32 x cols) stay in L2 together: decoding all 32 rows first (1 MiB of scratch at 4096
// columns, L2's size) left the packing's transposes waiting on L3, a third of a 16-row call's
// time under perf (docs/kernels.md). Each thread keeps its scratch between calls.
at::Tensor panelGemm(const kernels::FusedWeight &w, const at::Tensor &x2, kernels::KernelPath path)
{
    const int64_t m = x2.size(0), panel = kernels::kGemmPanel, group = 8;
    at::Tensor y = at::empty({m, w.rows}, at::kFloat);
    kernels::GemmF32Args a;
    a.x = x2.data_ptr<float>(), a.m = m, a.ldx = w.cols;
    a.n = w.rows, a.k = w.cols;
    a.bias = w.bias;
    a.y = y.data_ptr<float>(), a.ldy = w.rows;
    const int64_t panels = kernels::gemm_f32_panels(w.rows);
    parallelFor(0, panels, splitGrain((m + 1) * panel * w.cols), [&](int64_t begin, int64_t end) {
        thread_local std::vector<float> rows, packed, absmax;
        rows.resize(static_cast<size_t>(group * w.cols));
        packed.resize(static_cast<size_t>(panel * w.cols));
        absmax.resize(static_cast<size_t>(kernels::fused_decode_rows_blocks(w, 0, group)) + 1);
        for (int64_t p = begin; p < end; ++p) {
            const int64_t r0 = p * panel, r1 = std::min(w.rows, r0 + panel);
            if (r1 - r0 < panel) // the last panel's missing rows are zero
                std::fill(packed.begin(), packed.end(), 0.0f);
            for (int64_t g = r0; g < r1; g += group) {
                const int64_t ge = std::min(r1, g + group);
                // Eight rows straight into the panel where the kernels can (4-bit formats on
                // AVX-512), else decoded, then packed.
                if (ge - g == group
                    && kernels::fused_decode_panel8(w, g, packed.data(), g - r0, absmax.data(),
                                                    path))
                    continue;
                kernels::fused_decode_rows(w, g, ge, rows.data(), absmax.data());
                kernels::gemm_f32_pack_rows(rows.data(), ge - g, w.cols, packed.data(), g - r0,
                                            path);
            }
            kernels::gemm_f32_panel(a, packed.data(), p, 0, m, path);
        }
    });
    return y;
}

} // namespace

at::Tensor runFused(const kernels::FusedWeight &w, const at::Tensor &x, int64_t floatMaxRows)
{
    TORCH_CHECK(x.size(-1) == w.cols, "fused linear: input has ", x.size(-1),
                " features, expected ", w.cols);
    if (!x.device().is_cpu())
        return {};
    const kernels::KernelPath path = activeKernelPath();
    const bool q8 = int8ActivationKernelsEnabled() && kernels::q8_supported(w);
    const bool manyRows = !q8 && x.numel() / std::max<int64_t>(1, w.cols) > floatMaxRows;
    if (manyRows && !kernels::fused_decode_rows_supported(w))
        return {};
    const at::Tensor x2 = x.detach().to(at::kFloat).reshape({-1, w.cols}).contiguous();
    auto shape = x.sizes().vec();
    shape.back() = w.rows;
    if (manyRows)
        return panelGemm(w, x2, path).reshape(shape);
    const int64_t m = x2.size(0);
    at::Tensor y = at::empty({m, w.rows}, at::kFloat);
    float *out = y.data_ptr<float>();
    const int64_t grain = splitGrain(m * w.cols);
    if (q8) {
        const kernels::Q8Input q8 = kernels::q8_prepare_input(w, x2.data_ptr<float>(), m);
        parallelFor(0, w.rows, grain, [&](int64_t begin, int64_t end) {
            kernels::fused_linear_q8(w, q8, out, begin, end);
        });
        return y.reshape(shape);
    }
    const kernels::FusedInput in
        = kernels::fused_prepare_input(w, x2.data_ptr<float>(), m, path);
    parallelFor(0, w.rows, grain, [&](int64_t begin, int64_t end) {
        kernels::fused_linear(w, in, out, begin, end);
    });
    return y.reshape(shape);
}

} // namespace qb
