// nf4: block-wise 4-bit NormalFloat (QLoRA), optionally double-quantized (quant/nf4_linear.h).
#include "quant/methods/method_common.h"

namespace qb {

QuantMethod nf4Method()
{
    return method_common::codebook4Method(
        "nf4", kernels::Codebook4::Nf4,
        "4-bit NormalFloat per block of weights (QLoRA), optional double quantization");
}

} // namespace qb
