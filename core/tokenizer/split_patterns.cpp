#include "tokenizer/split_patterns.h"

#include "tokenizer/bert_text.h"
#include "tokenizer/builtin_words.h"
#include "tokenizer/unicode.h"

namespace qb::tok {

const char kGpt2Regex[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char kLlama3Regex[] = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3})"
                            R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char kQwen2Regex[] = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N})"
                           R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

// Reads code points of one text; the scanners below are written against it so that each regex
// alternative reads like the pattern it implements.
class Cursor
{
public:
    explicit Cursor(std::string_view text) : m_text(text) {}

    std::size_t size() const { return m_text.size(); }
    bool atEnd(std::size_t pos) const { return pos >= m_text.size(); }

    char32_t at(std::size_t pos) const
    {
        std::size_t length = 0;
        return decodeUtf8(m_text, pos, length);
    }

    std::size_t next(std::size_t pos) const
    {
        std::size_t length = 0;
        decodeUtf8(m_text, pos, length);
        return pos + length;
    }

    template<typename Pred>
    std::size_t skipWhile(std::size_t pos, Pred pred, int limit = -1) const
    {
        while (!atEnd(pos) && limit != 0 && pred(at(pos))) {
            pos = next(pos);
            --limit;
        }
        return pos;
    }

private:
    std::string_view m_text;
};

bool isOther(char32_t cp)
{
    return !isWhitespace(cp) && !isLetter(cp) && !isNumber(cp);
}

// 's 't 're 've 'm 'll 'd at pos (pos holds the apostrophe); returns the match length or 0.
std::size_t contractionLength(std::string_view text, std::size_t pos, bool ignoreCase)
{
    const auto lower = [&](std::size_t i) -> char {
        if (i >= text.size())
            return '\0';
        const char c = text[i];
        return ignoreCase && c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
    };
    const char a = lower(pos + 1);
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    const char b = lower(pos + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return 3;
    return 0;
}

// \s+(?!\S)|\s+ at pos (a whitespace code point): the whole run at the end of the text, else the
// run less its last code point so that the following word can take one leading space, but never
// less than one code point.
std::size_t whitespaceRunEnd(const Cursor &cur, std::size_t pos)
{
    std::size_t lastStart = pos;
    std::size_t end = pos;
    while (!cur.atEnd(end) && isWhitespace(cur.at(end))) {
        lastStart = end;
        end = cur.next(end);
    }
    if (cur.atEnd(end) || lastStart == pos)
        return end;
    return lastStart;
}

std::size_t gpt2Next(const Cursor &cur, std::string_view text, std::size_t pos)
{
    const char32_t c = cur.at(pos);
    if (c == '\'') {
        if (const std::size_t n = contractionLength(text, pos, false))
            return pos + n;
    }
    // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": one optional leading space.
    const std::size_t p = (c == ' ' && !cur.atEnd(pos + 1)) ? pos + 1 : pos;
    const char32_t d = cur.at(p);
    if (isLetter(d))
        return cur.skipWhile(p, isLetter);
    if (isNumber(d))
        return cur.skipWhile(p, isNumber);
    if (isOther(d))
        return cur.skipWhile(p, isOther);
    return whitespaceRunEnd(cur, pos);
}

std::size_t llama3Next(const Cursor &cur, std::string_view text, std::size_t pos, int maxDigits)
{
    const char32_t c = cur.at(pos);
    if (c == '\'') {
        if (const std::size_t n = contractionLength(text, pos, true))
            return pos + n;
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (isLetter(c))
        return cur.skipWhile(pos, isLetter);
    if (c != '\r' && c != '\n' && !isNumber(c)) {
        const std::size_t p = cur.next(pos);
        if (!cur.atEnd(p) && isLetter(cur.at(p)))
            return cur.skipWhile(p, isLetter);
    }
    // \p{N}{1,maxDigits}
    if (isNumber(c))
        return cur.skipWhile(pos, isNumber, maxDigits);
    // " ?[^\s\p{L}\p{N}]+[\r\n]*"
    const std::size_t p = (c == ' ' && !cur.atEnd(pos + 1)) ? pos + 1 : pos;
    if (isOther(cur.at(p))) {
        const std::size_t end = cur.skipWhile(p, isOther);
        return cur.skipWhile(end, [](char32_t x) { return x == '\r' || x == '\n'; });
    }
    // \s*[\r\n]+: the whitespace run up to and including its last line break.
    std::size_t end = pos;
    std::size_t afterBreak = 0;
    while (!cur.atEnd(end) && isWhitespace(cur.at(end))) {
        const char32_t w = cur.at(end);
        end = cur.next(end);
        if (w == '\r' || w == '\n')
            afterBreak = end;
    }
    if (afterBreak != 0)
        return afterBreak;
    return whitespaceRunEnd(cur, pos);
}

template<typename Next>
void scanAll(std::string_view text, std::vector<Span> &spans, Next next)
{
    const Cursor cur(text);
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t end = next(cur, pos);
        spans.push_back({pos, end});
        pos = end;
    }
}

bool isWordChar(char32_t cp)
{
    // \w: letters, numbers, connector punctuation and combining marks.
    return isLetter(cp) || isNumber(cp) || cp == '_' || (cp >= 0x300 && cp <= 0x36F);
}

template<typename Pred>
void runMatches(std::string_view text, std::vector<Span> &spans, Pred pred)
{
    const Cursor cur(text);
    std::size_t pos = 0;
    while (pos < text.size()) {
        if (pred(cur.at(pos))) {
            const std::size_t end = cur.skipWhile(pos, pred);
            spans.push_back({pos, end});
            pos = end;
        } else {
            pos = cur.next(pos);
        }
    }
}

} // namespace

void gpt2Matches(std::string_view text, std::vector<Span> &spans)
{
    scanAll(text, spans,
            [&](const Cursor &cur, std::size_t pos) { return gpt2Next(cur, text, pos); });
}

void llama3Matches(std::string_view text, std::vector<Span> &spans, int maxDigits)
{
    scanAll(text, spans, [&](const Cursor &cur, std::size_t pos) {
        return llama3Next(cur, text, pos, maxDigits);
    });
}

void wordOrSymbolMatches(std::string_view text, std::vector<Span> &spans)
{
    const Cursor cur(text);
    std::size_t pos = 0;
    while (pos < text.size()) {
        const char32_t c = cur.at(pos);
        if (isWhitespace(c)) {
            pos = cur.next(pos);
            continue;
        }
        const bool word = isWordChar(c);
        const std::size_t end = cur.skipWhile(pos, [&](char32_t x) {
            return word ? isWordChar(x) : !isWordChar(x) && !isWhitespace(x);
        });
        spans.push_back({pos, end});
        pos = end;
    }
}

void whitespaceMatches(std::string_view text, std::vector<Span> &spans)
{
    runMatches(text, spans, isWhitespace);
}

void digitMatches(std::string_view text, std::vector<Span> &spans, bool individual)
{
    if (!individual) {
        runMatches(text, spans, isNumber);
        return;
    }
    const Cursor cur(text);
    for (std::size_t pos = 0; pos < text.size();) {
        const std::size_t end = cur.next(pos);
        if (isNumber(cur.at(pos)))
            spans.push_back({pos, end});
        pos = end;
    }
}

void punctuationMatches(std::string_view text, std::vector<Span> &spans)
{
    for (std::size_t pos = 0; pos < text.size(); ++pos) {
        if (isAsciiPunctuation(static_cast<unsigned char>(text[pos])))
            spans.push_back({pos, pos + 1});
    }
}

void bertPunctuationMatches(std::string_view text, std::vector<Span> &spans)
{
    for (std::size_t pos = 0, len = 0; pos < text.size(); pos += len) {
        if (isBertPunctuation(decodeUtf8(text, pos, len)))
            spans.push_back({pos, pos + len});
    }
}

Matcher literalMatcher(std::string literal)
{
    return [literal = std::move(literal)](std::string_view text, std::vector<Span> &spans) {
        if (literal.empty())
            return;
        std::size_t pos = 0;
        while ((pos = text.find(literal, pos)) != std::string_view::npos) {
            spans.push_back({pos, pos + literal.size()});
            pos += literal.size();
        }
    };
}

std::optional<Matcher> matcherForRegex(const std::string &regex)
{
    if (regex == kGpt2Regex)
        return Matcher(gpt2Matches);
    if (regex == kLlama3Regex)
        return Matcher([](std::string_view t, std::vector<Span> &s) { llama3Matches(t, s, 3); });
    if (regex == kQwen2Regex)
        return Matcher([](std::string_view t, std::vector<Span> &s) { llama3Matches(t, s, 1); });
    if (regex == kBuiltinWordsRegex)
        return Matcher(builtinWordMatches);
    // A regex without metacharacters is a plain literal (some files write " " that way).
    if (regex.find_first_of("\\^$.|?*+()[]{}") == std::string::npos && !regex.empty())
        return literalMatcher(regex);
    return std::nullopt;
}

} // namespace qb::tok
