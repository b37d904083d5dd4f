#include "model/linear.h"

#include "kernels/gemm_bf16.h"
#include "kernels/gemm_f32.h"
#include "quant/fused_kernels.h"
#include "util/parallel.h"

#include <ATen/core/grad_mode.h>

#include <atomic>

namespace qb {

DenseLinear::DenseLinear(at::Tensor weight, at::Tensor bias)
    : m_weight(std::move(weight)), m_bias(std::move(bias))
{
    TORCH_CHECK(m_weight.dim() == 2, "DenseLinear: weight must be [out, in]");
    TORCH_CHECK(!m_bias.defined() || (m_bias.dim() == 1 && m_bias.size(0) == m_weight.size(0)),
                "DenseLinear: bias must be [out]");
}

namespace {

// Whether y = x Wᵀ + b would be recorded for autograd (gradients on and something requires one).
bool recordsGraph(const at::Tensor &x, const at::Tensor &w, const at::Tensor &bias)
{
    return at::GradMode::is_enabled()
        && (x.requires_grad() || w.requires_grad() || (bias.defined() && bias.requires_grad()));
}

} // namespace

bool gemmF32Applies(const at::Tensor &x, const at::Tensor &w, const at::Tensor &bias)
{
    return !recordsGraph(x, w, bias) && fusedKernelsEnabled() && x.scalar_type() == at::kFloat
        && w.scalar_type() == at::kFloat && x.device().is_cpu() && w.device().is_cpu()
        && w.dim() == 2 && x.dim() >= 1 && x.size(-1) == w.size(1) && x.numel() > 0
        && (!bias.defined() || (bias.scalar_type() == at::kFloat && bias.device().is_cpu()));
}

namespace {

// w [out, in] packed panel by panel over the pool (`pack` as gemm_f32_pack_panels) into a new
// tensor of `elements` values of `type` (T on the kernel side).
template <class T, class Pack>
at::Tensor packPanels(const at::Tensor &w, int64_t elements, at::ScalarType type, Pack &&pack)
{
    const at::Tensor wc = w.contiguous();
    const int64_t rows = wc.size(0), cols = wc.size(1);
    at::Tensor packed = at::empty({elements}, type);
    const float *src = wc.data_ptr<float>();
    T *dst = static_cast<T *>(packed.data_ptr());
    // Packing moves each weight once: split it as a product of one multiply-add a weight.
    parallelFor(0, kernels::gemm_f32_panels(rows), splitGrain(kernels::kGemmPanel * cols),
                [&](int64_t begin, int64_t end) { pack(src, rows, cols, dst, begin, end); });
    return packed;
}

// The float32 output for x [..., in] through a linear of `out` features.
at::Tensor outputFor(const at::Tensor &x, int64_t out)
{
    auto shape = x.sizes().vec();
    shape.back() = out;
    return at::empty(shape, x.options());
}

} // namespace

at::Tensor packForGemm(const at::Tensor &w)
{
    return packPanels<float>(w, kernels::gemm_f32_packed_floats(w.size(0), w.size(1)), at::kFloat,
                             [](const float *src, int64_t rows, int64_t cols, float *dst,
                                int64_t begin, int64_t end) {
                                 kernels::gemm_f32_pack_panels(src, rows, cols, dst, begin, end);
                             });
}

at::Tensor gemmF32Linear(const at::Tensor &x, const at::Tensor &packed, int64_t out, int64_t in,
                         const at::Tensor &bias)
{
    const at::Tensor xc = x.contiguous();
    const at::Tensor bc = bias.defined() ? bias.contiguous() : bias;
    at::Tensor y = outputFor(x, out);
    kernels::GemmF32Args a;
    a.x = xc.data_ptr<float>();
    a.m = x.numel() / in, a.ldx = in;
    a.packed = packed.data_ptr<float>();
    a.n = out, a.k = in;
    a.bias = bc.defined() ? bc.data_ptr<float>() : nullptr;
    a.y = y.data_ptr<float>(), a.ldy = out;
    const kernels::KernelPath path = activeKernelPath();
    parallelFor(0, kernels::gemm_f32_items(a), splitGrain(kernels::gemm_f32_item_work(a)),
                [&](int64_t begin, int64_t end) { kernels::gemm_f32(a, begin, end, path); });
    return y;
}

at::Tensor packForGemmBf16(const at::Tensor &w)
{
    return packPanels<uint32_t>(
        w, kernels::gemm_bf16_packed_words(w.size(0), w.size(1)), at::kInt,
        [](const float *src, int64_t rows, int64_t cols, uint32_t *dst, int64_t begin,
           int64_t end) { kernels::gemm_bf16_pack_panels(src, rows, cols, dst, begin, end); });
}

at::Tensor gemmBf16Linear(const at::Tensor &x, const at::Tensor &packed, int64_t out, int64_t in,
                          const at::Tensor &bias)
{
    const at::Tensor xc = x.contiguous();
    const at::Tensor bc = bias.defined() ? bias.contiguous() : bias;
    at::Tensor y = outputFor(x, out);
    // The rows as bf16 pairs first (kernels/gemm_bf16.h), split over the pool.
    const int64_t m = x.numel() / in, pairs = kernels::gemm_bf16_pairs(in);
    at::Tensor xp = at::empty({m * pairs}, at::kInt);
    auto *words = static_cast<uint32_t *>(xp.data_ptr());
    const float *xs = xc.data_ptr<float>();
    parallelFor(0, m, splitGrain(in), [&](int64_t begin, int64_t end) {
        kernels::gemm_bf16_pack_rows(xs, in, in, words, begin, end);
    });
    kernels::GemmBf16Args a;
    a.x = words, a.m = m;
    a.packed = static_cast<const uint32_t *>(packed.data_ptr());
    a.n = out, a.k = in;
    a.bias = bc.defined() ? bc.data_ptr<float>() : nullptr;
    a.y = y.data_ptr<float>(), a.ldy = out;
    const kernels::KernelPath path = activeKernelPath();
    parallelFor(0, kernels::gemm_bf16_items(a), splitGrain(kernels::gemm_bf16_item_work(a)),
                [&](int64_t begin, int64_t end) { kernels::gemm_bf16(a, begin, end, path); });
    return y;
}

namespace {

std::atomic<int64_t> &packedBytes()
{
    static std::atomic<int64_t> bytes{0};
    return bytes;
}

std::atomic<int64_t> &packedBudget()
{
    static std::atomic<int64_t> budget{int64_t(1) << 30};
    return budget;
}

} // namespace

int64_t packedWeightBudget() { return packedBudget().load(); }
void setPackedWeightBudget(int64_t bytes) { packedBudget().store(bytes); }
int64_t packedWeightBytes() { return packedBytes().load(); }

DenseLinear::PackedCopy &DenseLinear::PackedCopy::operator=(const PackedCopy &)
{
    release();
    return *this;
}

void DenseLinear::PackedCopy::release()
{
    packedBytes() -= bytes;
    bytes = 0;
    floats = at::Tensor();
    from = nullptr;
}

at::Tensor DenseLinear::packedWeight(bool bf16)
{
    const int64_t rows = m_weight.size(0), cols = m_weight.size(1);
    const int64_t bytes = (bf16 ? kernels::gemm_bf16_packed_words(rows, cols)
                                : kernels::gemm_f32_packed_floats(rows, cols))
        * int64_t(sizeof(float));
    if (m_weight.numel() * static_cast<int64_t>(m_weight.element_size()) > kMaxPackedBytes)
        return {};
    // Inference tensors (made under c10::InferenceMode) keep no version counter: for them only a
    // new tensor is seen, not an in-place change (made under InferenceMode too).
    const uint32_t version = m_weight.is_inference() ? 0 : m_weight._version();
    if (m_packed.bytes > 0 && m_packed.from == m_weight.data_ptr() && m_packed.version == version
        && m_packed.bf16 == bf16)
        return m_packed.floats;
    m_packed.release();
    if (packedBytes().fetch_add(bytes) + bytes > packedBudget().load()) {
        packedBytes() -= bytes;
        return {};
    }
    m_packed.bytes = bytes;
    m_packed.floats = bf16 ? packForGemmBf16(m_weight) : packForGemm(m_weight);
    m_packed.from = m_weight.data_ptr();
    m_packed.version = version;
    m_packed.bf16 = bf16;
    return m_packed.floats;
}

at::Tensor DenseLinear::forward(const at::Tensor &x)
{
    if (gemmF32Applies(x, m_weight, m_bias)) {
        const bool bf16 = bf16ComputeActive();
        if (const at::Tensor packed = packedWeight(bf16); packed.defined())
            return bf16 ? gemmBf16Linear(x, packed, m_weight.size(0), m_weight.size(1), m_bias)
                        : gemmF32Linear(x, packed, m_weight.size(0), m_weight.size(1), m_bias);
    }
    const bool inference = !recordsGraph(x, m_weight, m_bias);
    // One float32 input row outside training: BLAS's matrix-vector product. at::linear hands it
    // to GEMM with M = 1, which this OpenBLAS runs 1.8-3x slower (bench kernels: 4096x4096
    // 6.4 ms against 2.1 ms; 640x256 71 us against 39 us).
    if (x.numel() == x.size(-1) && inference && x.scalar_type() == at::kFloat
        && m_weight.scalar_type() == at::kFloat && x.device() == m_weight.device()) {
        at::Tensor y = at::mv(m_weight, x.reshape({-1}));
        if (m_bias.defined())
            y.add_(m_bias);
        auto shape = x.sizes().vec();
        shape.back() = m_weight.size(0);
        return y.reshape(shape);
    }
    return m_bias.defined() ? at::linear(x, m_weight, m_bias) : at::linear(x, m_weight);
}

int64_t DenseLinear::weightBytes() const
{
    int64_t bytes = m_weight.numel() * static_cast<int64_t>(m_weight.element_size());
    if (m_bias.defined())
        bytes += m_bias.numel() * static_cast<int64_t>(m_bias.element_size());
    return bytes;
}

std::shared_ptr<DenseLinear> denseCopyOf(const LinearOp &op)
{
    const at::Tensor b = op.bias();
    return std::make_shared<DenseLinear>(op.denseWeight().detach().clone(),
                                         b.defined() ? b.detach().clone() : at::Tensor());
}

std::vector<at::Tensor> DenseLinear::trainableParameters()
{
    std::vector<at::Tensor> out{m_weight};
    if (m_bias.defined())
        out.push_back(m_bias);
    return out;
}

} // namespace qb
