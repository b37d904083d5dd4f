#include "model/fused_layer_ops.h"

#include "kernels/rms_norm.h"
#include "kernels/rotary.h"
#include "kernels/silu_mul.h"
#include "quant/fused_kernels.h"
#include "util/parallel.h"

namespace qb {

namespace {

// Rough float operations per element, for splitting rows over threads (quant/fused_kernels.h).
constexpr int64_t kNormWork = 3, kRotaryWork = 3, kSiluWork = 16;

} // namespace

bool fusedLayerOpsApply(const at::Tensor &x)
{
    return fusedKernelsEnabled() && x.device().is_cpu() && x.scalar_type() == at::kFloat
        && !x.requires_grad();
}

at::Tensor fusedRmsNorm(const at::Tensor &x, const at::Tensor &weight, double eps)
{
    const int64_t cols = x.size(-1);
    TORCH_CHECK(weight.numel() == cols && weight.scalar_type() == at::kFloat,
                "fusedRmsNorm: weight ", weight.sizes(), " for rows of ", cols);
    const at::Tensor xc = x.contiguous(), w = weight.contiguous();
    at::Tensor y = at::empty_like(xc);
    const int64_t rows = cols ? xc.numel() / cols : 0;
    const float *xp = xc.data_ptr<float>(), *wp = w.data_ptr<float>();
    float *yp = y.data_ptr<float>();
    parallelFor(0, rows, splitGrain(kNormWork * cols), [&](int64_t begin, int64_t end) {
        kernels::rms_norm(xp + begin * cols, wp, static_cast<float>(eps), yp + begin * cols,
                          end - begin, cols);
    });
    return y;
}

at::Tensor fusedRotary(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin,
                       int64_t heads, int64_t headDim)
{
    TORCH_CHECK(x.dim() == 3 && x.size(2) == heads * headDim && headDim % 2 == 0,
                "fusedRotary: x ", x.sizes(), " for ", heads, " heads of ", headDim);
    const int64_t b = x.size(0), t = x.size(1);
    const at::Tensor xc = x.contiguous();
    const at::Tensor c = cos.expand({b, 1, t, headDim}).contiguous();
    const at::Tensor s = sin.expand({b, 1, t, headDim}).contiguous();
    at::Tensor y = at::empty({b, t, heads, headDim}, at::kFloat);
    const float *xp = xc.data_ptr<float>(), *cp = c.data_ptr<float>(), *sp = s.data_ptr<float>();
    float *yp = y.data_ptr<float>();
    const int64_t row = heads * headDim;
    parallelFor(0, b * t, splitGrain(kRotaryWork * row), [&](int64_t begin, int64_t end) {
        kernels::rotary(xp + begin * row, cp + begin * headDim, sp + begin * headDim,
                        yp + begin * row, end - begin, heads, headDim);
    });
    return y.transpose(1, 2);
}

at::Tensor fusedSiluMul(const at::Tensor &gate, const at::Tensor &up)
{
    TORCH_CHECK(gate.sizes() == up.sizes() && up.scalar_type() == at::kFloat,
                "fusedSiluMul: gate ", gate.sizes(), ", up ", up.sizes());
    const at::Tensor g = gate.contiguous(), u = up.contiguous();
    at::Tensor y = at::empty_like(g);
    const int64_t cols = g.dim() ? g.size(-1) : 1;
    const int64_t rows = cols ? g.numel() / cols : 0;
    const float *gp = g.data_ptr<float>(), *up_ = u.data_ptr<float>();
    float *yp = y.data_ptr<float>();
    parallelFor(0, rows, splitGrain(kSiluWork * cols), [&](int64_t begin, int64_t end) {
        kernels::silu_mul(gp + begin * cols, up_ + begin * cols, yp + begin * cols,
                          (end - begin) * cols);
    });
    return y;
}

} // namespace qb
