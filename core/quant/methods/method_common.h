// Parameters and helpers that several methods of the table share (quant/method_registry.h), so
// each is written once: the group-wise integer grid of int / gptq / awq (bits, group_size,
// symmetric) and the 4-bit codebook methods nf4 / fp4 (block_size, double_quant).
// Thread safety: pure functions.
#pragma once
#include "kernels/int_group.h"
#include "kernels/nf4.h"
#include "quant/method_registry.h"

#include <string>
#include <vector>

namespace qb::method_common {

// The entry of a group-wise integer method with what int, gptq and awq share: the parameters
// bits, group_size, symmetric; their validation; the label "<name>-int4-g128" ("int4-g128" for
// int); loading as an IntGroupLinear made by `name`. The caller adds quantize and the rest.
QuantMethod intGroupMethod(const std::string &name, const std::string &description);
kernels::IntGroupConfig intGroupConfig(const MethodSpec &m);

// The whole entry of a block-wise 4-bit codebook method (nf4, fp4).
QuantMethod codebook4Method(const std::string &name, kernels::Codebook4 codebook,
                            const std::string &description);

// act_bits: the activation quantization every weight method but the int8-activation ones
// (llm_int8, smoothquant) and fp8 offers; MethodSpec::label() adds "-a<bits>", quantizeLinear()
// and makeQuantizedLinear() set it on the op (QuantizedLinear::setActBits).
ParamSpec actBitsParam();

// Shortest decimal form for labels: 6 -> "6", 0.5 -> "0.5".
std::string number(double v);

} // namespace qb::method_common
