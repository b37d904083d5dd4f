#include "train/number_features.h"

#include <cmath>
#include <cstdlib>
#include <regex>

namespace qb {

namespace {

// Feature layout: one block per kind, in this order.
constexpr int kIsNumber = 0;
constexpr int kUnits = 1;        // 10: units digit of an integer below 1000
constexpr int kTens = 11;        // 10: tens digit (0 for one-digit integers)
constexpr int kHundreds = 21;    // 10: hundreds digit (0 below 100)
constexpr int kDecade = 31;      // 16: floor(log10 |v|) clipped to [-6, 9]
constexpr int kFirst = 47;       // 9: first significant digit
constexpr int kSecond = 56;      // 10: second significant digit
constexpr int kInteger = 66;     // the value is a whole number
constexpr int kZero = 67;
constexpr int kNegative = 68;
constexpr int kCount = 69;

std::optional<double> parseNumber(const std::string &s)
{
    static const std::regex plain(R"(-?[0-9]+(\.[0-9]+)?)");
    static const std::regex scientific(R"(-?[0-9]\.[0-9]+e[+-][0-9]+)");
    if (s.empty() || s.size() > 24)
        return std::nullopt;
    if (!std::regex_match(s, plain) && !std::regex_match(s, scientific))
        return std::nullopt;
    return std::strtod(s.c_str(), nullptr);
}

} // namespace

int numberFeatureCount() { return kCount; }

std::vector<int> numberFeatureIndices(const std::string &token)
{
    const auto value = parseNumber(token);
    if (!value)
        return {};
    std::vector<int> f = {kIsNumber};
    const double v = std::fabs(*value);
    if (*value < 0)
        f.push_back(kNegative);
    const bool integer = v == std::floor(v) && v < 1e15;
    if (integer)
        f.push_back(kInteger);
    if (v == 0) {
        f.push_back(kZero);
    } else {
        // The first two significant digits of the %.3e form, so 0.035 and 35000 share "3", "5".
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3e", v);
        const int exponent = std::atoi(buf + 6);
        f.push_back(kDecade + std::clamp(exponent, -6, 9) + 6);
        f.push_back(kFirst + (buf[0] - '1'));
        f.push_back(kSecond + (buf[2] - '0'));
    }
    if (integer && v < 1000) {
        const int n = static_cast<int>(v);
        f.push_back(kUnits + n % 10);
        f.push_back(kTens + (n / 10) % 10);
        f.push_back(kHundreds + n / 100);
    }
    return f;
}

at::Tensor numberFeatureMatrix(const std::vector<std::string> &tokens)
{
    auto m = at::zeros({static_cast<int64_t>(tokens.size()), kCount}, at::kFloat);
    auto a = m.accessor<float, 2>();
    for (size_t t = 0; t < tokens.size(); ++t) {
        const auto idx = numberFeatureIndices(tokens[t]);
        for (int i : idx)
            a[t][i] = 1.0f / std::sqrt(static_cast<float>(idx.size()));
    }
    return m;
}

FactoredEmbedding::FactoredEmbedding(at::Tensor embedding, at::Tensor features, at::Tensor weights,
                                     bool addToEmbedding)
    : m_embedding(std::move(embedding)), m_features(std::move(features)),
      m_weights(std::move(weights))
{
    TORCH_CHECK(m_features.size(0) == m_embedding.size(0) && m_weights.size(0) == m_features.size(1)
                    && m_weights.size(1) == m_embedding.size(1),
                "FactoredEmbedding: shapes do not match");
    at::NoGradGuard noGrad;
    if (addToEmbedding)
        m_embedding.add_(at::mm(m_features, m_weights));
}

void FactoredEmbedding::beforeStep()
{
    at::NoGradGuard noGrad;
    if (m_embedding.grad().defined())
        m_weights.mutable_grad() = at::mm(m_features.t(), m_embedding.grad());
    m_before = m_weights.clone();
}

void FactoredEmbedding::afterStep()
{
    at::NoGradGuard noGrad;
    m_embedding.add_(at::mm(m_features, m_weights - m_before));
}

} // namespace qb
