#include "quant/nf4_linear.h"

#include "kernels/double_quant.h"
#include "kernels/fused_decode.h"
#include "quant/fused_kernels.h"
#include "util/parallel.h"

#include <algorithm>
#include "util/error.h"

namespace qb {

namespace {
constexpr int kDqBlock = 256; // bitsandbytes' block for the second-level quantization
}

std::shared_ptr<Nf4Linear> Nf4Linear::quantize(const at::Tensor &weight, const at::Tensor &bias,
                                               kernels::Codebook4 codebook, int blockSize,
                                               bool doubleQuant)
{
    TORCH_CHECK(weight.dim() == 2, "Nf4Linear: weight must be [out, in]");
    if (blockSize < 32 || blockSize > 4096 || blockSize % 2 != 0)
        throw Error("block_size " + std::to_string(blockSize) + " must be even and in 32..4096");
    auto w = weight.detach().to(at::kFloat).contiguous();
    const int64_t n = w.numel();
    const int64_t blocks = kernels::blockwise4_num_blocks(n, blockSize);
    auto packed = at::empty({kernels::blockwise4_packed_bytes(n)}, at::kByte);
    auto absmax = at::empty({blocks}, at::kFloat);
    kernels::quantize_blockwise4(codebook, w.data_ptr<float>(), n, blockSize,
                                 packed.data_ptr<uint8_t>(), absmax.data_ptr<float>());
    std::map<std::string, at::Tensor> t{{"qweight", packed}};
    if (doubleQuant) {
        const auto dq = kernels::double_quantize_absmax(absmax.data_ptr<float>(), blocks, kDqBlock);
        t["absmax_codes"]
            = at::from_blob(const_cast<uint8_t *>(dq.codes.data()), {blocks}, at::kByte).clone();
        t["absmax_scales"] = at::from_blob(const_cast<float *>(dq.scales.data()),
                                           {static_cast<int64_t>(dq.scales.size())}, at::kFloat)
                                 .clone();
        t["absmax_offset"] = at::full({1}, dq.offset, at::kFloat);
    } else {
        t["absmax"] = absmax;
    }
    if (bias.defined())
        t["bias"] = bias.detach().to(at::kFloat).clone();
    return std::make_shared<Nf4Linear>(codebook, w.size(0), w.size(1), blockSize, std::move(t));
}

Nf4Linear::Nf4Linear(kernels::Codebook4 codebook, int64_t out, int64_t in, int blockSize,
                     std::map<std::string, at::Tensor> t)
    : m_codebook(codebook), m_out(out), m_in(in), m_blockSize(blockSize)
{
    const std::string where = "Nf4Linear";
    const int64_t n = out * in;
    const int64_t blocks = kernels::blockwise4_num_blocks(n, blockSize);
    const at::Tensor packed
        = quant_detail::need(t, "qweight", at::kByte, {kernels::blockwise4_packed_bytes(n)}, where);
    if (t.count("absmax")) {
        m_absmax = quant_detail::need(t, "absmax", at::kFloat, {blocks}, where);
    } else {
        m_absmaxCodes = quant_detail::need(t, "absmax_codes", at::kByte, {blocks}, where);
        m_absmaxScales = quant_detail::need(t, "absmax_scales", at::kFloat,
                                            {(blocks + kDqBlock - 1) / kDqBlock}, where);
        m_absmaxOffset = quant_detail::need(t, "absmax_offset", at::kFloat, {1}, where);
        m_offset = m_absmaxOffset.item<float>();
    }
    m_bias = quant_detail::optionalBias(t, out, where);
    const bool dq = doubleQuant();
    const int64_t perRow = in / blockSize, denseRow = in / 2 + perRow * (dq ? 1 : 4);
    if (in % blockSize == 0) {
        m_layout = kernels::blockwise4_rows(blockSize, in, dq);
        if (rowsLayoutPays(m_layout.row_bytes, denseRow)) {
            const at::Tensor p = packed.contiguous(),
                             a = dq ? m_absmaxCodes.contiguous() : m_absmax.contiguous();
            at::Tensor buffer = at::empty({out, m_layout.row_bytes}, at::kByte);
            kernels::pack_blockwise4_rows(m_layout, p.data_ptr<uint8_t>(),
                                          dq ? nullptr : a.data_ptr<float>(),
                                          dq ? a.data_ptr<uint8_t>() : nullptr, out, in,
                                          buffer.data_ptr<uint8_t>());
            m_rows = packedWeightStorage(buffer);
            m_packed = m_rows.narrow(1, m_layout.code_offset, in / 2);
            if (dq)
                m_absmaxCodes = m_rows.narrow(1, 0, perRow);
            else
                m_absmax = m_rows.narrow(1, 0, perRow * 4).view(at::kFloat);
            return;
        }
    }
    m_packed = packedWeightStorage(packed);
}

kernels::FusedWeight Nf4Linear::fusedWeight() const
{
    const float *bias = m_bias.defined() ? m_bias.data_ptr<float>() : nullptr;
    const bool dq = doubleQuant();
    if (m_rows.defined())
        return kernels::fused_weight_blockwise4_rows(
            m_codebook, m_rows.data_ptr<uint8_t>(), m_layout,
            dq ? m_absmaxScales.data_ptr<float>() : nullptr, m_offset, m_blockSize, m_out, m_in,
            bias);
    return kernels::fused_weight_blockwise4(
        m_codebook, m_packed.data_ptr<uint8_t>(), dq ? nullptr : m_absmax.data_ptr<float>(),
        dq ? m_absmaxCodes.data_ptr<uint8_t>() : nullptr,
        dq ? m_absmaxScales.data_ptr<float>() : nullptr, m_offset, m_blockSize, m_out, m_in,
        bias);
}

std::string Nf4Linear::kind() const
{
    return std::string(m_codebook == kernels::Codebook4::Nf4 ? "nf4" : "fp4")
        + (doubleQuant() ? "-dq" : "") + "-b" + std::to_string(m_blockSize) + actSuffix();
}

at::Tensor Nf4Linear::absmax() const
{
    if (m_absmax.defined())
        return m_absmax.contiguous().reshape({-1});
    const at::Tensor codes = m_absmaxCodes.contiguous();
    kernels::DoubleQuantAbsmax dq;
    dq.codes.assign(codes.data_ptr<uint8_t>(), codes.data_ptr<uint8_t>() + codes.numel());
    dq.scales.assign(m_absmaxScales.data_ptr<float>(),
                     m_absmaxScales.data_ptr<float>() + m_absmaxScales.numel());
    dq.offset = m_absmaxOffset.item<float>();
    dq.block_size = kDqBlock;
    auto out = at::empty({m_absmaxCodes.numel()}, at::kFloat);
    kernels::dequantize_double_quant_absmax(dq, out.data_ptr<float>());
    return out;
}

at::Tensor Nf4Linear::dequantizedWeight() const
{
    auto out = at::empty({m_out, m_in}, at::kFloat);
    if (m_rows.defined()) { // the rows layout: the kernels' row decode, rows split over threads
        const kernels::FusedWeight w = fusedWeight();
        float *dst = out.data_ptr<float>();
        parallelFor(0, m_out, splitGrain(m_in), [&](int64_t r0, int64_t r1) {
            std::vector<float> absmax(
                static_cast<size_t>(kernels::fused_decode_rows_blocks(w, r0, r1)));
            kernels::fused_decode_rows(w, r0, r1, dst + r0 * m_in, absmax.data());
        });
        return out;
    }
    auto a = absmax().contiguous();
    const int64_t n = m_out * m_in, blocks = (n + m_blockSize - 1) / m_blockSize;
    const uint8_t *packed = m_packed.data_ptr<uint8_t>();
    const float *scales = a.data_ptr<float>();
    float *dst = out.data_ptr<float>();
    // Blocks are independent and start on a byte (even block sizes): split them.
    parallelFor(0, blocks, splitGrain(m_blockSize), [&](int64_t b0, int64_t b1) {
        const int64_t e0 = b0 * m_blockSize, e1 = std::min(n, b1 * m_blockSize);
        kernels::dequantize_blockwise4(m_codebook, packed + e0 / 2, scales + b0, e1 - e0,
                                       m_blockSize, dst + e0);
    });
    return out;
}

at::Tensor Nf4Linear::fusedForward(const at::Tensor &x)
{
    return runFused(fusedWeight(), x, fusedMaxRows());
}

int64_t Nf4Linear::weightBytes() const
{
    const int64_t second = doubleQuant() ? m_absmaxScales.numel() * 4 + 4 : 0;
    if (m_rows.defined()) // padding included: held in memory and read with the codes
        return m_rows.numel() + second + biasBytes();
    int64_t bytes = m_packed.numel() + biasBytes();
    if (m_absmax.defined())
        return bytes + m_absmax.numel() * 4;
    return bytes + m_absmaxCodes.numel() + second;
}

nlohmann::json Nf4Linear::methodConfig() const
{
    return {{"method", m_codebook == kernels::Codebook4::Nf4 ? "nf4" : "fp4"},
            {"block_size", m_blockSize},
            {"double_quant", doubleQuant()}};
}

std::map<std::string, at::Tensor> Nf4Linear::tensors() const
{
    // The flattened tensors (copies out of the rows layout).
    std::map<std::string, at::Tensor> out{{"qweight", m_packed.contiguous().reshape({-1})}};
    if (m_absmax.defined()) {
        out["absmax"] = m_absmax.contiguous().reshape({-1});
    } else {
        out["absmax_codes"] = m_absmaxCodes.contiguous().reshape({-1});
        out["absmax_scales"] = m_absmaxScales;
        out["absmax_offset"] = m_absmaxOffset;
    }
    addBias(out);
    return out;
}

} // namespace qb
