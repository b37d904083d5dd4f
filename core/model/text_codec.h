// TextCodec: text <-> token ids for a model: its tokenizer.json when the folder has one, otherwise
// raw bytes (ids 0..255), which is what the random smoke model is sized for. The one way text
// becomes ids in the core (evaluation, generation, calibration, training all go through it).
// Immutable once made; const methods may be called from any thread.
#pragma once
#include "model/model_config.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace qb {

class Tokenizer;

class TextCodec
{
public:
    virtual ~TextCodec() = default;
    virtual std::vector<int64_t> encode(const std::string &text) const = 0;
    // Special tokens are left out of the text.
    virtual std::string decode(const std::vector<int64_t> &ids) const = 0;
    virtual std::string name() const = 0;
    // The tokenizer's chat template (Jinja source); empty when none.
    virtual std::string chatTemplate() const { return {}; }
};

// The folder's tokenizer.json (with tokenizer_config.json beside it) or, without one, bytes.
// Without a tokenizer and with fewer than 256 ids, a codec whose encode/decode throw qb::Error
// saying so (weight-only work on such a model still works).
std::shared_ptr<const TextCodec> codecForModel(const std::filesystem::path &dir,
                                               const ModelConfig &config);
std::shared_ptr<const TextCodec> tokenizerCodec(Tokenizer tokenizer);
// A codec whose encode/decode throw qb::Error(reason): for models with no way to turn text into ids.
std::shared_ptr<const TextCodec> unavailableCodec(std::string reason);

} // namespace qb
