// AWQ (Lin et al. 2024), activation-aware weight quantization for group-wise INT-k (INT4 g128 by
// default): the weight columns of salient input channels (large mean |x_j|) are scaled up before
// quantization so that they lose less, and the input is scaled down by the same factor.
//
// Scale search: s = mean|x_j|^a (clamped >= 1e-4, normalized by sqrt(max s * min s)) for a in
// {0, 1/20, ..., 19/20}; the a minimizing mean((X Q(W diag(s))^T / ... - X W^T)^2) over the
// calibration rows wins (a = 0 is round-to-nearest, so the search never does worse than RTN on the
// calibration data). Optional clipping search: per output row and group of W diag(s), the clamp
// range max|w| * (1 - i/20), i = 0..9, minimizing the group's partial output error on up to 512
// calibration rows. The result is an IntGroupLinear holding Q(clip(W diag(s))) with input_scale s
// (forward uses x / s).
// Thread safety: pure functions.
#pragma once
#include "quant/int_group_linear.h"

#include <ATen/ATen.h>

#include <vector>

namespace qb {

struct AwqConfig
{
    kernels::IntGroupConfig quant{4, 128, false};
    int grid = 20; // alphas a = i / grid, i = 0 .. grid - 1
    bool clipSearch = true;
    int clipGrid = 20;
    double maxShrink = 0.5; // clip candidates shrink the range by at most this fraction
    int64_t clipRows = 512; // calibration rows used by the clipping search
};

struct AwqSearch
{
    std::vector<double> losses; // output MSE per grid point
    int best = 0;               // index of the lowest loss (a = best / grid)
    at::Tensor scales;          // [in] float32, the winning s
};

// weight: [out, in] float32; x: [tokens, in] float32 calibration inputs of this layer.
AwqSearch awqSearchScales(const at::Tensor &weight, const at::Tensor &x, const AwqConfig &cfg);
// The same search with the scalar kernel references and plain float64 loops (tests).
AwqSearch awqSearchScalesRef(const at::Tensor &weight, const at::Tensor &x, const AwqConfig &cfg);

// scaledWeight: [out, in] float32 (W diag(s)); xScaled: [tokens, in] float32 (x / s). Returns the
// clipped weight, same shape.
at::Tensor awqClip(const at::Tensor &scaledWeight, const at::Tensor &xScaled, const AwqConfig &cfg);

// searchWeight: [out', in] float32 the scale search runs on instead of weight, e.g. the rows of
// every layer reading x stacked (AutoAWQ's one scale for q/k/v and one for gate/up, which the
// Hugging Face AWQ layout needs to fold s into the norm); undefined = weight.
std::shared_ptr<IntGroupLinear> awqQuantize(const at::Tensor &weight, const at::Tensor &bias,
                                            const at::Tensor &x, const AwqConfig &cfg,
                                            AwqSearch *search = nullptr,
                                            const at::Tensor &searchWeight = {});

} // namespace qb
