// Torch side of tst_number_features: the factored embedding's gradient and update against autograd
// through the explicit parametrization E = W + F . S.
#include "train/number_features.h"

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace probe {

double factoredEmbeddingError()
{
    const std::vector<std::string> vocab = {"<pad>", "apples", "57", "27", "0.035", "35000", "7"};
    const int64_t hidden = 5;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
    const auto F = qb::numberFeatureMatrix(vocab);
    const auto W = at::empty({int64_t(vocab.size()), hidden}).normal_(0, 1, gen);
    const auto S = at::empty({F.size(1), hidden}).normal_(0, 1, gen);
    const auto C = at::empty({int64_t(vocab.size()), hidden}).normal_(0, 1, gen);
    const double lr = 0.1;

    // Reference: autograd through W + F S, then one plain gradient step on W and S.
    auto wRef = W.clone().requires_grad_(true);
    auto sRef = S.clone().requires_grad_(true);
    (at::addmm(wRef, F, sRef) * C).pow(2).sum().backward();
    const auto eAfterRef = at::addmm(wRef.detach() - lr * wRef.grad(), F,
                                     sRef.detach() - lr * sRef.grad());

    // Factored: E holds W + F S; the gradient reaches E only.
    auto e = W.clone();
    auto s = S.clone().requires_grad_(true);
    qb::FactoredEmbedding fe(e, F, s, true);
    double err = (e - at::addmm(W, F, S)).abs().max().item<double>();
    e.requires_grad_(true);
    (e * C).pow(2).sum().backward();
    fe.beforeStep();
    err = std::max(err, (s.grad() - sRef.grad()).abs().max().item<double>());
    {
        at::NoGradGuard noGrad;
        e.sub_(lr * e.grad());
        s.sub_(lr * s.grad());
    }
    fe.afterStep();
    return std::max(err, (e.detach() - eAfterRef).abs().max().item<double>());
}

} // namespace probe
