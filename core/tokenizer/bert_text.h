// Character classes and text rewrites of BERT's normalizer and pre-tokenizer (BertNormalizer,
// BertPreTokenizer in a tokenizer.json): Unicode punctuation, control characters, CJK ideographs,
// simple lowercasing and accent stripping.
//
// The punctuation and lowercase tables cover every code point below U+20000 (Unicode general
// categories P* and the one-to-one lowercase mappings, listed with Python's unicodedata and
// str.lower); accent stripping decomposes canonically (nfd.h) and drops the nonspacing marks
// (category Mn).
// Thread safety: pure functions over constant tables.
#pragma once
#include <string>

namespace qb::tok {

// ASCII punctuation and symbols (as the reference library's BERT splitter counts them) or any
// character of a Unicode punctuation category.
bool isBertPunctuation(char32_t cp);
// Control and format characters other than tab, newline and carriage return.
bool isControl(char32_t cp);
// The CJK ideograph blocks BERT surrounds with spaces (not Hangul or kana).
bool isChineseChar(char32_t cp);
char32_t toLowerSimple(char32_t cp);

// BertNormalizer's steps in the reference library's order.
struct BertNormalizeOptions
{
    bool cleanText = true;
    bool handleChineseChars = true;
    bool stripAccents = true;
    bool lowercase = true;
};
void bertNormalize(std::string &text, const BertNormalizeOptions &options);

} // namespace qb::tok
