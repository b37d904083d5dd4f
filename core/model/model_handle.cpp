#include "api/model_handle.h"

#include "model/generation.h"
#include "model/transformer.h"
#include "model/model_bundle.h"
#include "util/error.h"

namespace qb {

ModelHandle::ModelHandle() = default;
ModelHandle::~ModelHandle() = default;
ModelHandle::ModelHandle(ModelHandle &&) noexcept = default;
ModelHandle &ModelHandle::operator=(ModelHandle &&) noexcept = default;

ModelHandle ModelHandle::load(const std::filesystem::path &dir)
{
    ModelHandle h;
    h.m_model = loadTransformer(dir);
    return h;
}

ModelHandle ModelHandle::random(const std::string &configJson, uint64_t seed)
{
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(configJson);
    } catch (const nlohmann::json::parse_error &e) {
        throw Error(std::string("model config: invalid JSON at byte ") + std::to_string(e.byte));
    }
    ModelHandle h;
    h.m_model = std::make_unique<Transformer>(ModelConfig::fromJson(j, "model config"));
    h.m_model->initRandom(seed);
    return h;
}

Transformer &ModelHandle::model() const
{
    if (!m_model)
        throw Error("no model loaded");
    return *m_model;
}

void ModelHandle::save(const std::filesystem::path &dir) const { model().save(dir); }
int64_t ModelHandle::vocabSize() const { return model().config().vocabSize; }
int64_t ModelHandle::parameterCount() const { return model().config().parameterCount(); }
int64_t ModelHandle::weightBytes() const { return model().weightBytes(); }
std::vector<std::string> ModelHandle::linearNames() const { return model().linearNames(); }

std::vector<float> ModelHandle::logits(const std::vector<int64_t> &tokens) const
{
    at::NoGradGuard noGrad;
    auto ids = at::tensor(tokens, at::kLong).unsqueeze(0);
    auto out = model().forward(ids).squeeze(0).contiguous();
    return std::vector<float>(out.data_ptr<float>(), out.data_ptr<float>() + out.numel());
}

std::vector<std::vector<int64_t>> ModelHandle::generate(
    const std::vector<std::vector<int64_t>> &prompts, const DecodingConfig &config,
    const std::vector<int64_t> &endTokens) const
{
    return qb::generate(model(), prompts, config, endTokens);
}

} // namespace qb
