// fp4: block-wise 4-bit float (E2M1, bitsandbytes), optionally double-quantized
// (quant/nf4_linear.h).
#include "quant/methods/method_common.h"

namespace qb {

QuantMethod fp4Method()
{
    return method_common::codebook4Method(
        "fp4", kernels::Codebook4::Fp4,
        "4-bit float per block of weights (bitsandbytes), optional double quantization");
}

} // namespace qb
