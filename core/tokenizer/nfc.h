// Canonical composition (the NFC normalizer of Qwen's tokenizer.json) for the Latin, Greek and
// Cyrillic letters with diacritics and the other compositions below U+2000: "e" + U+0301 becomes
// "é". Hangul syllables and compositions above U+2000 are left as they are; mark reordering is not
// done. Decomposed input is rare (most text arrives composed), so this covers what matters.
// Thread safety: pure function over a constant table.
#pragma once
#include <string>

namespace qb::tok {

void composeNfc(std::string &text);

} // namespace qb::tok
