#include "quant/int_group_linear.h"

#include "kernels/fused_decode.h"
#include "quant/fused_kernels.h"
#include "util/parallel.h"
#include "util/error.h"

#include <algorithm>
#include <cmath>

namespace qb {

namespace {

void checkConfig(const kernels::IntGroupConfig &cfg)
{
    if (cfg.bits != 2 && cfg.bits != 3 && cfg.bits != 4 && cfg.bits != 8)
        throw Error("bits " + std::to_string(cfg.bits) + " is not supported (2, 3, 4 or 8)");
    if (cfg.group_size < -1)
        throw Error("group_size must be >= -1 (0 = per channel, -1 = per tensor)");
}

} // namespace

std::string intGroupLabel(const kernels::IntGroupConfig &cfg)
{
    return "int" + std::to_string(cfg.bits)
        + (cfg.group_size > 0    ? "-g" + std::to_string(cfg.group_size)
           : cfg.group_size < 0 ? std::string("-pt")
                                : std::string("-pc"))
        + (cfg.symmetric ? "" : "-asym");
}

std::shared_ptr<IntGroupLinear> IntGroupLinear::quantize(const at::Tensor &weight,
                                                         const at::Tensor &bias,
                                                         const kernels::IntGroupConfig &cfg)
{
    TORCH_CHECK(weight.dim() == 2, "IntGroupLinear: weight must be [out, in]");
    checkConfig(cfg);
    auto w = weight.detach().to(at::kFloat).contiguous();
    const int64_t out = w.size(0), in = w.size(1);
    if (cfg.group_size < 0) {
        // Per tensor: kernels/int_group.h's formulas with one range for the whole matrix, its
        // scale (and zero point) stored once per row so the per-channel kernels decode it.
        const double codesMax = cfg.symmetric ? (1 << (cfg.bits - 1)) - 1 : (1 << cfg.bits) - 1;
        const double lo = std::min(w.min().item<double>(), 0.0);
        const double hi = std::max(w.max().item<double>(), 0.0);
        const double scale = cfg.symmetric ? std::max(-lo, hi) / codesMax : (hi - lo) / codesMax;
        const double inv = scale > 0 ? 1.0 / scale : 0.0;
        at::Tensor codes, zeros;
        if (cfg.symmetric) {
            codes = (w * inv).round().clamp(-codesMax, codesMax) + (1 << (cfg.bits - 1));
        } else {
            const double zero = scale > 0 ? std::clamp(std::nearbyint(-lo * inv), 0.0, codesMax) : 0;
            codes = ((w * inv).round() + zero).clamp(0, codesMax);
            zeros = at::full({out, 1}, zero, at::kFloat).to(at::kByte);
        }
        return fromCodes(codes.to(at::kByte), at::full({out, 1}, scale, at::kFloat), zeros, cfg,
                         bias.defined() ? bias.detach().to(at::kFloat).clone() : at::Tensor());
    }
    const int64_t groups = kernels::int_group_groups_per_row(cfg, in);
    std::map<std::string, at::Tensor> t;
    t["qweight"] = at::empty({out, kernels::int_group_row_bytes(cfg.bits, in)}, at::kByte);
    t["scales"] = at::empty({out, groups}, at::kFloat);
    if (!cfg.symmetric)
        t["qzeros"] = at::empty({out, groups}, at::kByte);
    kernels::quantize_int_group(w.data_ptr<float>(), out, in, cfg, t["qweight"].data_ptr<uint8_t>(),
                                t["scales"].data_ptr<float>(),
                                cfg.symmetric ? nullptr : t["qzeros"].data_ptr<uint8_t>());
    if (bias.defined())
        t["bias"] = bias.detach().to(at::kFloat).clone();
    return std::make_shared<IntGroupLinear>(cfg, out, in, std::move(t));
}

std::shared_ptr<IntGroupLinear> IntGroupLinear::fromCodes(const at::Tensor &codes,
                                                          const at::Tensor &scales,
                                                          const at::Tensor &zeros,
                                                          const kernels::IntGroupConfig &cfg,
                                                          const at::Tensor &bias)
{
    checkConfig(cfg);
    auto c = codes.to(at::kByte).contiguous();
    const int64_t out = c.size(0), in = c.size(1);
    const int64_t rowBytes = kernels::int_group_row_bytes(cfg.bits, in);
    auto packed = at::empty({out, rowBytes}, at::kByte);
    for (int64_t r = 0; r < out; ++r)
        kernels::pack_codes(c.data_ptr<uint8_t>() + r * in, in, cfg.bits,
                            packed.data_ptr<uint8_t>() + r * rowBytes);
    std::map<std::string, at::Tensor> t{{"qweight", packed},
                                        {"scales", scales.to(at::kFloat).contiguous()}};
    if (!cfg.symmetric)
        t["qzeros"] = zeros.to(at::kByte).contiguous();
    if (bias.defined())
        t["bias"] = bias.detach().to(at::kFloat).clone();
    return std::make_shared<IntGroupLinear>(cfg, out, in, std::move(t));
}

IntGroupLinear::IntGroupLinear(const kernels::IntGroupConfig &cfg, int64_t out, int64_t in,
                               std::map<std::string, at::Tensor> t)
    : m_cfg(cfg), m_out(out), m_in(in)
{
    checkConfig(cfg);
    const std::string where = "IntGroupLinear";
    const int64_t groups = kernels::int_group_groups_per_row(cfg, in);
    const int64_t rowBytes = kernels::int_group_row_bytes(cfg.bits, in);
    const at::Tensor packed = quant_detail::need(t, "qweight", at::kByte, {out, rowBytes}, where);
    const at::Tensor scales = quant_detail::need(t, "scales", at::kFloat, {out, groups}, where);
    at::Tensor zeros;
    if (!cfg.symmetric)
        zeros = quant_detail::need(t, "qzeros", at::kByte, {out, groups}, where);
    m_layout = kernels::int_group_rows(cfg.bits, groups, in, !cfg.symmetric);
    const int64_t denseRow = rowBytes + groups * 4 + (cfg.symmetric ? 0 : groups);
    if (rowsLayoutPays(m_layout.row_bytes, denseRow)) {
        const at::Tensor p = packed.contiguous(), s = scales.contiguous(),
                         z = zeros.defined() ? zeros.contiguous() : zeros;
        at::Tensor buffer = at::empty({out, m_layout.row_bytes}, at::kByte);
        kernels::pack_int_group_rows(m_layout, p.data_ptr<uint8_t>(), s.data_ptr<float>(),
                                     z.defined() ? z.data_ptr<uint8_t>() : nullptr, cfg.bits, out,
                                     in, buffer.data_ptr<uint8_t>());
        m_rows = packedWeightStorage(buffer);
        m_packed = m_rows.narrow(1, m_layout.code_offset, rowBytes);
        m_scales = m_rows.narrow(1, 0, groups * 4).view(at::kFloat);
        if (!cfg.symmetric)
            m_zeros = m_rows.narrow(1, m_layout.zero_offset, groups);
    } else {
        m_packed = packedWeightStorage(packed);
        m_scales = scales.contiguous();
        m_zeros = zeros.defined() ? zeros.contiguous() : zeros;
    }
    if (t.count("perm"))
        m_perm = quant_detail::need(t, "perm", at::kLong, {in}, where);
    if (t.count("input_scale"))
        m_inputScale = quant_detail::need(t, "input_scale", at::kFloat, {in}, where);
    if (t.count("zeros_f"))
        m_zerosF = quant_detail::need(t, "zeros_f", at::kFloat, {out, groups}, where);
    m_bias = quant_detail::optionalBias(t, out, where);
}

std::string IntGroupLinear::kind() const
{
    return (m_method == "int" ? std::string() : m_method + "-") + intGroupLabel(m_cfg)
        + (m_perm.defined() ? "-act" : "") + actSuffix();
}

void IntGroupLinear::setRealZeros(at::Tensor zeros)
{
    TORCH_CHECK(!zeros.defined()
                    || (zeros.scalar_type() == at::kFloat
                        && zeros.sizes() == m_scales.sizes()),
                "IntGroupLinear::setRealZeros: zeros must be float32 [out, G]");
    m_zerosF = zeros.defined() ? zeros.contiguous() : zeros;
}

at::Tensor IntGroupLinear::storedWeight() const
{
    if (m_zerosF.defined()) {
        // (code - zeros_f) * scale, each column reading its group's zero and scale.
        auto codes = at::empty({m_out, m_in}, at::kByte);
        const int64_t stride = m_packed.stride(0);
        for (int64_t r = 0; r < m_out; ++r)
            kernels::unpack_codes(m_packed.data_ptr<uint8_t>() + r * stride, m_in, m_cfg.bits,
                                  codes.data_ptr<uint8_t>() + r * m_in);
        const auto group = at::arange(m_in, at::kLong).div(kernels::int_group_size(m_cfg, m_in),
                                                            "floor");
        return (codes.to(at::kFloat) - m_zerosF.index_select(1, group))
            * m_scales.index_select(1, group);
    }
    auto out = at::empty({m_out, m_in}, at::kFloat);
    const kernels::FusedWeight w = fusedWeight();
    float *dst = out.data_ptr<float>();
    // Rows are independent (each starts on a byte): split them.
    parallelFor(0, m_out, splitGrain(m_in), [&](int64_t r0, int64_t r1) {
        kernels::fused_decode_rows(w, r0, r1, dst + r0 * m_in, nullptr);
    });
    return out;
}

at::Tensor IntGroupLinear::referenceForward(const at::Tensor &x)
{
    at::Tensor xin = x;
    if (m_inputScale.defined())
        xin = xin / m_inputScale;
    if (m_perm.defined())
        xin = xin.index_select(-1, m_perm);
    return linearWith(xin, storedWeight());
}

at::Tensor IntGroupLinear::fusedForward(const at::Tensor &x)
{
    at::Tensor xin = x;
    if (m_inputScale.defined())
        xin = xin / m_inputScale;
    if (m_perm.defined())
        xin = xin.index_select(-1, m_perm);
    return runFused(fusedWeight(), xin, fusedMaxRows());
}

kernels::FusedWeight IntGroupLinear::fusedWeight() const
{
    const float *zerosF = m_zerosF.defined() ? m_zerosF.data_ptr<float>() : nullptr;
    const float *bias = m_bias.defined() ? m_bias.data_ptr<float>() : nullptr;
    if (m_rows.defined())
        return kernels::fused_weight_int_group_rows(m_rows.data_ptr<uint8_t>(), m_layout, zerosF,
                                                    m_cfg.bits, m_cfg.group_size, m_out, m_in,
                                                    bias);
    return kernels::fused_weight_int_group(
        m_packed.data_ptr<uint8_t>(), m_scales.data_ptr<float>(),
        m_zeros.defined() ? m_zeros.data_ptr<uint8_t>() : nullptr, zerosF, m_cfg.bits,
        m_cfg.group_size, m_out, m_in, bias);
}

at::Tensor IntGroupLinear::dequantizedWeight() const
{
    auto w = storedWeight();
    if (m_perm.defined()) {
        // Stored column j holds original column perm[j].
        auto original = at::empty_like(w);
        original.index_copy_(1, m_perm, w);
        w = original;
    }
    if (m_inputScale.defined())
        w = w / m_inputScale.unsqueeze(0);
    return w;
}

int64_t IntGroupLinear::weightBytes() const
{
    // The rows layout's padding included: it is held in memory and read with the codes.
    int64_t bytes = biasBytes();
    if (m_rows.defined())
        bytes += m_rows.numel();
    else
        bytes += m_packed.numel() + m_scales.numel() * 4 + (m_zeros.defined() ? m_zeros.numel() : 0);
    if (m_perm.defined())
        bytes += m_perm.numel() * 8;
    if (m_inputScale.defined())
        bytes += m_inputScale.numel() * 4;
    if (m_zerosF.defined())
        bytes += m_zerosF.numel() * 4;
    return bytes;
}

nlohmann::json IntGroupLinear::methodConfig() const
{
    return {{"method", m_method},
            {"bits", m_cfg.bits},
            {"group_size", m_cfg.group_size},
            {"symmetric", m_cfg.symmetric}};
}

std::map<std::string, at::Tensor> IntGroupLinear::tensors() const
{
    // The dense tensors (copies out of the rows layout).
    std::map<std::string, at::Tensor> out{{"qweight", m_packed.contiguous()},
                                          {"scales", m_scales.contiguous()}};
    if (m_zeros.defined())
        out["qzeros"] = m_zeros.contiguous();
    if (m_perm.defined())
        out["perm"] = m_perm;
    if (m_inputScale.defined())
        out["input_scale"] = m_inputScale;
    if (m_zerosF.defined())
        out["zeros_f"] = m_zerosF;
    addBias(out);
    return out;
}

} // namespace qb
