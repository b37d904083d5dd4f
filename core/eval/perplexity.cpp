#include "eval/perplexity.h"

#include "util/error.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

namespace qb::eval {

double PerplexityResult::perplexity() const { return std::exp(meanNll()); }

PerplexityResult perplexity(Transformer &model, const std::vector<int64_t> &ids,
                            const PerplexityOptions &options, const WorkHooks &hooks)
{
    const int64_t n = static_cast<int64_t>(ids.size());
    const int64_t maxPositions = model.config().maxPositions;
    PerplexityResult r;
    r.tokens = n;
    r.window = options.window > 0 ? options.window : maxPositions;
    r.stride = options.stride > 0 ? options.stride : std::max<int64_t>(1, r.window / 2);
    if (n < 2)
        throw Error("perplexity: the text has " + std::to_string(n)
                    + " tokens; at least 2 are needed");
    if (r.window < 2 || r.window > maxPositions)
        throw Error("perplexity: window " + std::to_string(r.window) + " must be in 2.."
                    + std::to_string(maxPositions) + " (the model's positions)");
    if (r.stride > r.window)
        throw Error("perplexity: stride " + std::to_string(r.stride) + " exceeds the window "
                    + std::to_string(r.window) + " (tokens between windows would go unscored)");
    at::NoGradGuard noGrad;
    const at::Tensor all = at::tensor(ids, at::kLong);
    const int64_t total = n > r.window ? (n - r.window + r.stride - 1) / r.stride + 1 : 1;
    int64_t scoredUpTo = 1; // token 0 has no context
    for (int64_t begin = 0;; begin += r.stride) {
        hooks.poll();
        const int64_t end = std::min(begin + r.window, n);
        // Position p of the window predicts token begin + p + 1; score the tokens from..end-1
        // (a window's own first token has no context in it: with stride = window it goes
        // unscored, as in transformers).
        const int64_t from = std::max(scoredUpTo, begin + 1);
        const at::Tensor logits = model.forward(all.slice(0, begin, end).unsqueeze(0)).squeeze(0);
        const int64_t first = from - begin - 1, count = end - from;
        const at::Tensor logp = at::log_softmax(logits.slice(0, first, first + count), -1);
        const at::Tensor targets = all.slice(0, from, end).unsqueeze(1);
        r.nll -= logp.gather(1, targets).sum().item<double>();
        r.predicted += count;
        scoredUpTo = end;
        ++r.windows;
        hooks.report(double(r.windows), double(total), "window " + std::to_string(r.windows));
        if (end == n)
            break;
    }
    return r;
}

} // namespace qb::eval
