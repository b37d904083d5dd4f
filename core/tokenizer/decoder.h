// Decoders of a tokenizer.json ("decoder" key): they turn token strings back into text.
//
// Supported: Sequence, ByteLevel, Replace (string pattern), ByteFallback, Fuse, Strip, Metaspace,
// WordPiece (with its cleanup), no decoder (tokens joined with single spaces, as the Hugging Face
// library does) and QuantBench's built-in word spacing (builtin_words.h). Bytes that do not form
// valid UTF-8 (a token sequence cut inside a character) are passed through as raw bytes rather
// than replaced by U+FFFD, so a caller streaming text can join pieces back into the right
// characters.
// Thread safety: immutable after construction; decode is const.
#pragma once
#include "tokenizer/json_where.h"

#include <memory>
#include <string>
#include <vector>

namespace qb::tok {

class Decoder
{
public:
    virtual ~Decoder() = default;
    // Rewrites the token strings in place; the caller concatenates what is left.
    virtual void decode(std::vector<std::string> &tokens) const = 0;
};

// Null json gives the space-joining decoder.
std::unique_ptr<Decoder> makeDecoder(const nlohmann::json &j, const JsonWhere &where);

std::unique_ptr<Decoder> makeBuiltinWordsDecoder();

} // namespace qb::tok
