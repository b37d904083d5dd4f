// Normalizers of a tokenizer.json ("normalizer" key), applied to each stretch of text between
// added tokens before it is pre-tokenized.
//
// Supported: Sequence, Prepend, Replace (string pattern), Lowercase (ASCII), Strip, NFC (with
// the coverage nfc.h describes) and BertNormalizer (bert_text.h). Any other type is a qb::Error
// naming the key path.
// Thread safety: immutable after construction; normalize is const.
#pragma once
#include "tokenizer/json_where.h"

#include <memory>
#include <string>

namespace qb::tok {

class Normalizer
{
public:
    virtual ~Normalizer() = default;
    virtual void normalize(std::string &text) const = 0;
};

// Null json gives nullptr (no normalizer).
std::unique_ptr<Normalizer> makeNormalizer(const nlohmann::json &j, const JsonWhere &where);

// Replaces every occurrence of from in text by to.
void replaceAll(std::string &text, const std::string &from, const std::string &to);

} // namespace qb::tok
