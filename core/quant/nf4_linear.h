// NF4 / FP4 block-wise 4-bit weights (QLoRA, bitsandbytes semantics; see kernels/nf4.h), with
// optional double quantization of the block absmax values (kernels/double_quant.h).
// Stored (n = out * in, flattened row-major, B = block size):
//   qweight [(n + 1) / 2] uint8 (two codes per byte, first in the high nibble)
//   absmax  [ceil(n / B)] float32                          without double quantization, or
//   absmax_codes [ceil(n / B)] uint8 + absmax_scales [ceil(n / B / 256)] float32 +
//   absmax_offset [1] float32                              with it;
//   bias [out] float32 (optional).
// In memory, where blocks tile the rows and the padding costs at most 3%, the kernels' rows
// layout (kernels/fused_linear.h Blockwise4Rows: each row's absmax or absmax codes right before
// its nibbles); tensors() returns the flattened form either way.
// Thread safety and ownership: as QuantizedLinear.
#pragma once
#include "kernels/fused_linear.h"
#include "kernels/nf4.h"
#include "quant/quantized_linear.h"

namespace qb {

class Nf4Linear : public QuantizedLinear
{
public:
    // weight: [out, in] float32; blockSize even, 32..4096.
    static std::shared_ptr<Nf4Linear> quantize(const at::Tensor &weight, const at::Tensor &bias,
                                               kernels::Codebook4 codebook, int blockSize,
                                               bool doubleQuant);
    // tensors: as listed in the file comment (absmax or the three absmax_* tensors).
    Nf4Linear(kernels::Codebook4 codebook, int64_t out, int64_t in, int blockSize,
              std::map<std::string, at::Tensor> tensors);

    int64_t inFeatures() const override { return m_in; }
    int64_t outFeatures() const override { return m_out; }
    // "nf4-b64", "nf4-dq-b64", "fp4-b64", ...
    std::string kind() const override;
    int64_t weightBytes() const override;
    at::Tensor dequantizedWeight() const override;
    nlohmann::json methodConfig() const override;
    std::map<std::string, at::Tensor> tensors() const override;

    bool doubleQuant() const { return m_absmaxCodes.defined(); }
    // The block absmax values the codes are scaled by (reconstructed when double-quantized).
    at::Tensor absmax() const;

protected:
    // The fused NF4/FP4 GEMV/GEMM (double-quantized absmax decoded per block on the fly).
    at::Tensor fusedForward(const at::Tensor &x) override;

private:
    // The kernels' view of the stored weight (either layout).
    kernels::FusedWeight fusedWeight() const;

    kernels::Codebook4 m_codebook;
    int64_t m_out, m_in;
    int m_blockSize;
    // m_packed, m_absmax, m_absmaxCodes: flattened 1-D tensors, or [out, ...] views into m_rows,
    // the rows layout's buffer (undefined when flattened).
    at::Tensor m_packed;       // uint8
    at::Tensor m_absmax;       // float32, or undefined with double quantization
    at::Tensor m_absmaxCodes;  // uint8
    at::Tensor m_rows;
    kernels::Blockwise4Rows m_layout;
    at::Tensor m_absmaxScales; // float32
    at::Tensor m_absmaxOffset; // [1] float32
    float m_offset = 0.0f;     // its value
};

} // namespace qb
