#include "data/answer_extract.h"

#include <cctype>
#include <vector>

namespace qb::data {

namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isNumberChar(char c) { return isDigit(c) || c == '.' || c == ','; }
bool isAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

Extraction numberResult(std::string_view raw)
{
    std::string value = normalizeNumber(raw);
    if (!isPlainNumber(value))
        return {};
    return {value, true};
}

// "-?[0-9.,]+" at i (the group of lm-eval's strict patterns); empty when nothing matches.
std::string_view strictNumberAt(std::string_view s, std::size_t i)
{
    std::size_t j = i;
    if (j < s.size() && s[j] == '-')
        ++j;
    std::size_t k = j;
    while (k < s.size() && isNumberChar(s[k]))
        ++k;
    if (k == j)
        return {};
    return s.substr(i, k - i);
}

Extraction strictAfter(std::string_view completion, std::string_view marker)
{
    std::size_t from = 0;
    for (;;) {
        const auto pos = completion.find(marker, from);
        if (pos == std::string_view::npos)
            return {};
        const std::string_view number = strictNumberAt(completion, pos + marker.size());
        if (!number.empty())
            return numberResult(number);
        from = pos + 1;
    }
}

std::string lowered(std::string_view s)
{
    std::string out(s);
    for (char &c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool isChoiceLetter(char c) { return c >= 'A' && c <= 'D'; }

// A letter at i, optionally in parentheses, that is not the start of a word ("B." or "(B)" but
// not "Because"). Returns the letter or 0; sets end past it.
char letterAt(std::string_view s, std::size_t i, std::size_t *end = nullptr)
{
    bool paren = false;
    if (i < s.size() && s[i] == '(') {
        paren = true;
        ++i;
    }
    if (i >= s.size() || !isChoiceLetter(s[i]))
        return 0;
    const char letter = s[i++];
    if (paren) {
        if (i >= s.size() || s[i] != ')')
            return 0;
        ++i;
    } else if (i < s.size() && isAlnum(s[i])) {
        return 0;
    }
    if (end)
        *end = i;
    return letter;
}

std::size_t skipBlanks(std::string_view s, std::size_t i)
{
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        ++i;
    return i;
}

Extraction letterResult(char letter) { return {std::string(1, letter), true}; }

char leadingLetter(std::string_view s) { return letterAt(s, skipBlanks(s, 0)); }

// First "answer is X", case-insensitive marker.
char answerIsLetter(std::string_view s)
{
    const std::string low = lowered(s);
    std::size_t from = 0;
    for (;;) {
        const auto pos = low.find("answer is", from);
        if (pos == std::string::npos)
            return 0;
        std::size_t i = pos + 9;
        while (i < s.size() && (s[i] == ' ' || s[i] == ':'))
            ++i;
        if (const char letter = letterAt(s, i))
            return letter;
        from = pos + 1;
    }
}

char lastParenLetter(std::string_view s)
{
    char found = 0;
    for (std::size_t i = 0; i + 2 < s.size(); ++i) {
        if (s[i] == '(' && isChoiceLetter(s[i + 1]) && s[i + 2] == ')')
            found = s[i + 1];
    }
    return found;
}

char lastAnswerColonLetter(std::string_view s)
{
    const std::string low = lowered(s);
    char found = 0;
    std::size_t from = 0;
    for (;;) {
        const auto pos = low.find("answer:", from);
        if (pos == std::string::npos)
            return found;
        const std::size_t i = skipBlanks(s, pos + 7);
        if (const char letter = letterAt(s, i))
            found = letter;
        from = pos + 1;
    }
}

// Lower case, punctuation dropped, runs of blanks collapsed: lm-eval compares choice texts after
// the same kind of folding (ignore_case, ignore_punctuation).
std::string folded(std::string_view s)
{
    std::string out;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (std::ispunct(u))
            continue;
        if (std::isspace(u)) {
            if (!out.empty() && out.back() != ' ')
                out += ' ';
            continue;
        }
        out += static_cast<char>(std::tolower(u));
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

// The choice whose folded text occurs last as whole words in the folded completion; at equal
// positions the longer choice wins (it contains the shorter one).
char choiceTextLetter(std::string_view s, const std::array<std::string, 4> &choices)
{
    const std::string text = folded(s);
    char best = 0;
    std::size_t bestPos = 0, bestLen = 0;
    for (int c = 0; c < 4; ++c) {
        const std::string needle = folded(choices[c]);
        if (needle.empty())
            continue;
        for (auto pos = text.rfind(needle); pos != std::string::npos;
             pos = pos ? text.rfind(needle, pos - 1) : std::string::npos) {
            const std::size_t end = pos + needle.size();
            const bool wordStart = pos == 0 || !isAlnum(text[pos - 1]);
            const bool wordEnd = end == text.size() || !isAlnum(text[end]);
            if (!wordStart || !wordEnd)
                continue;
            if (!best || pos > bestPos || (pos == bestPos && needle.size() > bestLen)) {
                best = static_cast<char>('A' + c);
                bestPos = pos;
                bestLen = needle.size();
            }
            break;
        }
    }
    return best;
}

} // namespace

Extraction extractGsmStrict(std::string_view completion)
{
    return strictAfter(completion, "#### ");
}

Extraction extractGsmCotStrict(std::string_view completion)
{
    return strictAfter(completion, "The answer is ");
}

Extraction extractGsmFlexible(std::string_view s)
{
    // Scans like a regex engine: at each position try the first alternative (-?[$0-9.,]{2,},
    // greedy), then the second (-?[0-9]+); after a match continue behind it. Keep the last.
    std::string_view last;
    auto isWide = [](char c) { return isNumberChar(c) || c == '$'; };
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t matchEnd = 0;
        for (const bool minus : {true, false}) {
            if (minus && s[i] != '-')
                continue;
            const std::size_t start = i + (minus ? 1 : 0);
            std::size_t k = start;
            while (k < s.size() && isWide(s[k]))
                ++k;
            if (k - start >= 2) {
                matchEnd = k;
                break;
            }
        }
        if (!matchEnd) {
            for (const bool minus : {true, false}) {
                if (minus && s[i] != '-')
                    continue;
                const std::size_t start = i + (minus ? 1 : 0);
                std::size_t k = start;
                while (k < s.size() && isDigit(s[k]))
                    ++k;
                if (k > start) {
                    matchEnd = k;
                    break;
                }
            }
        }
        if (matchEnd) {
            last = s.substr(i, matchEnd - i);
            i = matchEnd;
        } else {
            ++i;
        }
    }
    if (last.empty())
        return {};
    return numberResult(last);
}

Extraction extractGpqaStrict(std::string_view completion, PromptFormat format)
{
    if (format == PromptFormat::GpqaZeroShot) {
        if (const char letter = leadingLetter(completion))
            return letterResult(letter);
    }
    if (const char letter = answerIsLetter(completion))
        return letterResult(letter);
    return {};
}

Extraction extractGpqa(std::string_view completion, const std::array<std::string, 4> &choices,
                       PromptFormat format)
{
    Extraction strict = extractGpqaStrict(completion, format);
    if (strict.parsed)
        return strict;
    for (char letter : {lastParenLetter(completion), lastAnswerColonLetter(completion),
                        choiceTextLetter(completion, choices)}) {
        if (letter)
            return letterResult(letter);
    }
    return {};
}

Extraction extractGsmDirectStrict(std::string_view completion)
{
    std::size_t i = 0;
    while (i < completion.size()
           && (completion[i] == ' ' || completion[i] == '\t' || completion[i] == '\n'
               || completion[i] == '\r'))
        ++i;
    const std::string_view number = strictNumberAt(completion, i);
    return number.empty() ? Extraction{} : numberResult(number);
}

Extraction extractGsmStrict(std::string_view completion, PromptFormat format)
{
    switch (format) {
    case PromptFormat::Gsm8kCot: return extractGsmCotStrict(completion);
    case PromptFormat::Gsm8kDirect: return extractGsmDirectStrict(completion);
    default: return extractGsmStrict(completion);
    }
}

AnswerCheck checkGsmAnswer(std::string_view text, const std::string &gold, PromptFormat format)
{
    AnswerCheck check;
    const ThinkSplit split = splitThinking(text);
    const std::string_view completion = split.answer;
    check.thinkChars = split.thinkChars;
    check.strict = extractGsmStrict(completion, format);
    check.flexible = extractGsmFlexible(completion);
    const std::string goldValue = normalizeNumber(gold);
    check.strictCorrect = check.strict.parsed && check.strict.answer == goldValue;
    check.flexibleCorrect = check.flexible.parsed && check.flexible.answer == goldValue;
    return check;
}

AnswerCheck checkGpqaAnswer(std::string_view text, const GpqaRecord &record,
                            PromptFormat format)
{
    AnswerCheck check;
    const ThinkSplit split = splitThinking(text);
    const std::string_view completion = split.answer;
    check.thinkChars = split.thinkChars;
    check.strict = extractGpqaStrict(completion, format);
    check.flexible = extractGpqa(completion, record.choices, format);
    const std::string gold(1, record.goldLetter());
    check.strictCorrect = check.strict.parsed && check.strict.answer == gold;
    check.flexibleCorrect = check.flexible.parsed && check.flexible.answer == gold;
    return check;
}

ThinkSplit splitThinking(std::string_view completion, std::string_view thinkStart,
                         std::string_view thinkEnd)
{
    ThinkSplit out;
    if (const auto end = completion.rfind(thinkEnd); end != std::string_view::npos) {
        out.thinkChars = static_cast<int64_t>(end + thinkEnd.size());
        out.answer = completion.substr(end + thinkEnd.size());
    } else if (completion.find(thinkStart) != std::string_view::npos) {
        out.thinkChars = static_cast<int64_t>(completion.size());
        out.answer = {};
    } else {
        out.answer = completion;
    }
    return out;
}

} // namespace qb::data
