#include "quant/int8_linear.h"

#include "kernels/int8_gemm.h"
#include "kernels/int8_rowwise.h"
#include "quant/fused_kernels.h"
#include "util/parallel.h"

namespace qb {

using quant_detail::rows2d;

std::shared_ptr<Int8RowLinear> Int8RowLinear::quantize(const at::Tensor &weight,
                                                       const at::Tensor &bias)
{
    TORCH_CHECK(weight.dim() == 2, "Int8RowLinear: weight must be [out, in]");
    auto w = weight.detach().to(at::kFloat).contiguous();
    auto q = at::empty(w.sizes(), at::kChar);
    auto s = at::empty({w.size(0)}, at::kFloat);
    kernels::quantize_int8_rowwise(w.data_ptr<float>(), w.size(0), w.size(1), q.data_ptr<int8_t>(),
                                   s.data_ptr<float>());
    return std::make_shared<Int8RowLinear>(q, s, bias.defined() ? bias.detach().clone() : bias);
}

Int8RowLinear::Int8RowLinear(at::Tensor qweight, at::Tensor scales, at::Tensor bias)
    : m_q(packedWeightStorage(qweight)), m_scales(scales.contiguous())
{
    TORCH_CHECK(m_q.dim() == 2 && m_q.scalar_type() == at::kChar, "Int8RowLinear: int8 [out, in]");
    TORCH_CHECK(m_scales.numel() == m_q.size(0), "Int8RowLinear: scales must be [out]");
    m_bias = bias.defined() ? bias.contiguous() : bias;
}

at::Tensor Int8RowLinear::dequantizedWeight() const
{
    auto out = at::empty(m_q.sizes(), at::kFloat);
    const int64_t cols = m_q.size(1);
    const int8_t *q = m_q.data_ptr<int8_t>();
    const float *scales = m_scales.data_ptr<float>();
    float *dst = out.data_ptr<float>();
    // Rows are independent: split them (batch-64 generation dequantizes every call).
    parallelFor(0, m_q.size(0), splitGrain(cols), [&](int64_t r0, int64_t r1) {
        kernels::dequantize_int8_rowwise(q + r0 * cols, scales + r0, r1 - r0, cols,
                                         dst + r0 * cols);
    });
    return out;
}

at::Tensor Int8RowLinear::fusedForward(const at::Tensor &x)
{
    if (m_bias.defined() && m_bias.scalar_type() != at::kFloat)
        return {};
    const auto w = kernels::fused_weight_int8_row(
        m_q.data_ptr<int8_t>(), m_scales.data_ptr<float>(), m_q.size(0), m_q.size(1),
        m_bias.defined() ? m_bias.data_ptr<float>() : nullptr);
    return runFused(w, x, fusedMaxRows());
}

int64_t Int8RowLinear::weightBytes() const
{
    return m_q.numel() + m_scales.numel() * 4 + biasBytes();
}

std::map<std::string, at::Tensor> Int8RowLinear::tensors() const
{
    std::map<std::string, at::Tensor> out{{"qweight", m_q}, {"scales", m_scales}};
    addBias(out);
    return out;
}

at::Tensor int8ProductScaled(const at::Tensor &qx, const at::Tensor &qw, const at::Tensor &sx,
                             const at::Tensor &sw)
{
    const int64_t rows = qx.size(0), out = qw.size(0), in = qw.size(1);
    at::Tensor acc = at::empty({rows, out}, at::kInt);
    at::Tensor y = at::empty({rows, out}, at::kFloat);
    const int8_t *a = qx.data_ptr<int8_t>(), *b = qw.data_ptr<int8_t>();
    const float *rowScale = sx.data_ptr<float>(), *colScale = sw.data_ptr<float>();
    int32_t *c = acc.data_ptr<int32_t>();
    float *yp = y.data_ptr<float>();
    // Output columns split over the pool (exact integers: any split gives the same sums), each
    // range scaled while its sums are in cache: float(sum) · sx, then · sw, the two roundings
    // of the tensor expression this replaced (acc.to(float) * sx * sw, three passes).
    parallelFor(0, out, splitGrain(rows * in), [&](int64_t j0, int64_t j1) {
        kernels::gemm_s8s8s32_cols(a, b, rows, out, in, c, j0, j1);
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = j0; j < j1; ++j) {
                const float t = static_cast<float>(c[i * out + j]) * rowScale[i];
                yp[i * out + j] = t * colScale[j];
            }
    });
    return y;
}

std::shared_ptr<LlmInt8Linear> LlmInt8Linear::quantize(const at::Tensor &weight,
                                                       const at::Tensor &bias, double threshold)
{
    auto base = Int8RowLinear::quantize(weight, bias);
    return std::make_shared<LlmInt8Linear>(base->qweight(), base->scales(), base->bias(),
                                           threshold);
}

LlmInt8Linear::LlmInt8Linear(at::Tensor qweight, at::Tensor scales, at::Tensor bias,
                             double threshold)
    : Int8RowLinear(std::move(qweight), std::move(scales), std::move(bias)), m_threshold(threshold)
{
}

at::Tensor LlmInt8Linear::referenceForward(const at::Tensor &x)
{
    const int64_t in = inFeatures(), out = outFeatures();
    TORCH_CHECK(x.size(-1) == in, "LlmInt8Linear: input has ", x.size(-1), " features, expected ",
                in);
    auto x2 = rows2d(x);
    const int64_t rows = x2.size(0);
    auto qx = at::empty({rows, in}, at::kChar);
    auto sx = at::empty({rows}, at::kFloat);
    // The kernel zeroes the outlier columns' codes, so the int8 product covers exactly the
    // regular columns and the float32 product below adds the rest: the split is exact.
    const auto outliers = kernels::quantize_int8_vectorwise(
        x2.data_ptr<float>(), rows, in, static_cast<float>(m_threshold), qx.data_ptr<int8_t>(),
        sx.data_ptr<float>());
    m_lastOutliers = static_cast<int64_t>(outliers.size());
    at::Tensor y = int8ProductScaled(qx, m_q, sx, m_scales);
    if (!outliers.empty()) {
        auto idx = at::from_blob(const_cast<int32_t *>(outliers.data()),
                                 {static_cast<int64_t>(outliers.size())}, at::kInt)
                       .to(at::kLong);
        // Dequantize only the outlier columns: q * scale, the same float product as the kernel.
        auto wCols = (m_q.index_select(1, idx).to(at::kFloat) * m_scales.unsqueeze(1)).contiguous();
        // Through our GEMM where it applies (linearWith, no bias here): OpenBLAS's threads,
        // woken for a product of a few columns, then spun in sched_yield and took a third of a
        // batch-64 generation's samples.
        y = y + linearWith(x2.index_select(1, idx), wCols, {});
    }
    if (m_bias.defined())
        y = y + m_bias;
    auto shape = x.sizes().vec();
    shape.back() = out;
    return y.reshape(shape);
}

} // namespace qb
