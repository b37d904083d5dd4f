// Pre-tokenizers of a tokenizer.json ("pre_tokenizer" key): they cut normalized text into the
// pieces the model encodes one at a time, and may rewrite them (ByteLevel maps bytes to GPT-2's
// printable alphabet, Metaspace turns spaces into U+2581).
//
// Supported: Sequence, Split (string or known regex pattern, every behavior, invert), ByteLevel,
// Metaspace, Digits, Whitespace, WhitespaceSplit, Punctuation, BertPreTokenizer. Others are a
// qb::Error naming the key path; so is a regex that split_patterns.h does not know.
// Thread safety: immutable after construction; split is const.
#pragma once
#include "tokenizer/json_where.h"
#include "tokenizer/split_patterns.h"

#include <memory>
#include <string>
#include <vector>

namespace qb::tok {

struct Piece
{
    std::string text;
    // True for the piece that begins at offset 0 of the input; Metaspace's "first" scheme
    // prepends its marker to that piece only.
    bool atStart = false;
};

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// Cuts every piece at the matcher's matches, keeping or merging the matched parts as behavior
// says; invert swaps matched and unmatched parts first.
void splitPieces(std::vector<Piece> &pieces, const Matcher &matcher, SplitBehavior behavior,
                 bool invert);

class PreTokenizer
{
public:
    virtual ~PreTokenizer() = default;
    virtual void split(std::vector<Piece> &pieces) const = 0;
};

// Null json gives nullptr (the whole text is one piece).
std::unique_ptr<PreTokenizer> makePreTokenizer(const nlohmann::json &j, const JsonWhere &where);

} // namespace qb::tok
