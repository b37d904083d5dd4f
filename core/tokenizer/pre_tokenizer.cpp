#include "tokenizer/pre_tokenizer.h"

#include "tokenizer/normalizer.h"
#include "tokenizer/unicode.h"

namespace qb::tok {

namespace {

struct Segment
{
    std::size_t begin;
    std::size_t end;
    bool match;
};

std::vector<Segment> segmentsOf(std::string_view text, const std::vector<Span> &spans, bool invert)
{
    std::vector<Segment> out;
    std::size_t pos = 0;
    for (const Span &s : spans) {
        if (s.begin > pos)
            out.push_back({pos, s.begin, invert});
        out.push_back({s.begin, s.end, !invert});
        pos = s.end;
    }
    if (pos < text.size())
        out.push_back({pos, text.size(), invert});
    return out;
}

// The Hugging Face semantics of each behavior, on segments that cover the text in order.
std::vector<Segment> applyBehavior(std::vector<Segment> segs, SplitBehavior behavior)
{
    std::vector<Segment> out;
    bool previousMatch = false;
    switch (behavior) {
    case SplitBehavior::Removed:
        for (const Segment &s : segs) {
            if (!s.match)
                out.push_back(s);
        }
        return out;
    case SplitBehavior::Isolated:
        return segs;
    case SplitBehavior::MergedWithPrevious:
        for (const Segment &s : segs) {
            if (s.match && !previousMatch && !out.empty())
                out.back().end = s.end;
            else
                out.push_back(s);
            previousMatch = s.match;
        }
        return out;
    case SplitBehavior::MergedWithNext:
        for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
            if (it->match && !previousMatch && !out.empty())
                out.back().begin = it->begin;
            else
                out.push_back(*it);
            previousMatch = it->match;
        }
        return {out.rbegin(), out.rend()};
    case SplitBehavior::Contiguous:
        for (const Segment &s : segs) {
            if (!out.empty() && out.back().match == s.match)
                out.back().end = s.end;
            else
                out.push_back(s);
        }
        return out;
    }
    return out;
}

class SequencePre : public PreTokenizer
{
public:
    explicit SequencePre(std::vector<std::unique_ptr<PreTokenizer>> steps)
        : m_steps(std::move(steps))
    {
    }
    void split(std::vector<Piece> &pieces) const override
    {
        for (const auto &step : m_steps)
            step->split(pieces);
    }

private:
    std::vector<std::unique_ptr<PreTokenizer>> m_steps;
};

class SplitPre : public PreTokenizer
{
public:
    SplitPre(Matcher matcher, SplitBehavior behavior, bool invert)
        : m_matcher(std::move(matcher)), m_behavior(behavior), m_invert(invert)
    {
    }
    void split(std::vector<Piece> &pieces) const override
    {
        splitPieces(pieces, m_matcher, m_behavior, m_invert);
    }

private:
    Matcher m_matcher;
    SplitBehavior m_behavior;
    bool m_invert;
};

class ByteLevelPre : public PreTokenizer
{
public:
    ByteLevelPre(bool addPrefixSpace, bool useRegex)
        : m_addPrefixSpace(addPrefixSpace), m_useRegex(useRegex)
    {
    }
    void split(std::vector<Piece> &pieces) const override
    {
        if (m_addPrefixSpace) {
            for (Piece &p : pieces) {
                if (p.text.empty() || p.text[0] != ' ')
                    p.text.insert(0, " ");
            }
        }
        if (m_useRegex)
            splitPieces(pieces, gpt2Matches, SplitBehavior::Isolated, false);
        for (Piece &p : pieces) {
            std::string mapped;
            mapped.reserve(p.text.size() * 2);
            for (const char c : p.text)
                mapped += byteToUnicode(static_cast<std::uint8_t>(c));
            p.text.swap(mapped);
        }
    }

private:
    bool m_addPrefixSpace;
    bool m_useRegex;
};

class MetaspacePre : public PreTokenizer
{
public:
    enum class Prepend { Always, First, Never };

    MetaspacePre(std::string replacement, Prepend prepend, bool split)
        : m_replacement(std::move(replacement)), m_prepend(prepend), m_split(split)
    {
    }
    void split(std::vector<Piece> &pieces) const override
    {
        for (Piece &p : pieces) {
            replaceAll(p.text, " ", m_replacement);
            const bool wanted = m_prepend == Prepend::Always
                || (m_prepend == Prepend::First && p.atStart);
            if (wanted && p.text.compare(0, m_replacement.size(), m_replacement) != 0)
                p.text.insert(0, m_replacement);
        }
        if (m_split)
            splitPieces(pieces, literalMatcher(m_replacement), SplitBehavior::MergedWithNext,
                        false);
    }

private:
    std::string m_replacement;
    Prepend m_prepend;
    bool m_split;
};

SplitBehavior behaviorOf(const nlohmann::json &j, const JsonWhere &where, SplitBehavior fallback)
{
    const std::string name = where.string(j, "behavior");
    if (name.empty())
        return fallback;
    if (name == "Removed")
        return SplitBehavior::Removed;
    if (name == "Isolated")
        return SplitBehavior::Isolated;
    if (name == "MergedWithPrevious")
        return SplitBehavior::MergedWithPrevious;
    if (name == "MergedWithNext")
        return SplitBehavior::MergedWithNext;
    if (name == "Contiguous")
        return SplitBehavior::Contiguous;
    (where / "behavior").fail("'" + name + "' is not a split behavior");
}

std::unique_ptr<PreTokenizer> makeSplit(const nlohmann::json &j, const JsonWhere &where)
{
    const auto pattern = j.find("pattern");
    const JsonWhere at = where / "pattern";
    if (pattern == j.end() || !pattern->is_object())
        at.fail("must be {\"String\": ...} or {\"Regex\": ...}");
    Matcher matcher;
    if (pattern->contains("String")) {
        matcher = literalMatcher(at.string(*pattern, "String"));
    } else if (pattern->contains("Regex")) {
        const std::string regex = at.string(*pattern, "Regex");
        auto known = matcherForRegex(regex);
        if (!known)
            (at / "Regex").fail("'" + regex + "' is not a known pattern (supported: the GPT-2, "
                                "Llama-3 and Qwen2 split patterns and QuantBench's word pattern)");
        matcher = std::move(*known);
    } else {
        at.fail("must be {\"String\": ...} or {\"Regex\": ...}");
    }
    return std::make_unique<SplitPre>(std::move(matcher),
                                      behaviorOf(j, where, SplitBehavior::Isolated),
                                      where.boolean(j, "invert", false));
}

std::unique_ptr<PreTokenizer> makeMetaspace(const nlohmann::json &j, const JsonWhere &where)
{
    // Older files say add_prefix_space instead of prepend_scheme.
    MetaspacePre::Prepend prepend = where.boolean(j, "add_prefix_space", true)
        ? MetaspacePre::Prepend::Always
        : MetaspacePre::Prepend::Never;
    const std::string scheme = where.string(j, "prepend_scheme");
    if (scheme == "always")
        prepend = MetaspacePre::Prepend::Always;
    else if (scheme == "first")
        prepend = MetaspacePre::Prepend::First;
    else if (scheme == "never")
        prepend = MetaspacePre::Prepend::Never;
    else if (!scheme.empty())
        (where / "prepend_scheme").fail("'" + scheme + "' is not always, first or never");
    return std::make_unique<MetaspacePre>(where.string(j, "replacement", "\xE2\x96\x81"), prepend,
                                          where.boolean(j, "split", true));
}

} // namespace

void splitPieces(std::vector<Piece> &pieces, const Matcher &matcher, SplitBehavior behavior,
                 bool invert)
{
    std::vector<Piece> out;
    out.reserve(pieces.size() * 2);
    std::vector<Span> spans;
    for (Piece &piece : pieces) {
        spans.clear();
        matcher(piece.text, spans);
        for (const Segment &s : applyBehavior(segmentsOf(piece.text, spans, invert), behavior)) {
            if (s.end > s.begin)
                out.push_back({piece.text.substr(s.begin, s.end - s.begin),
                               piece.atStart && s.begin == 0});
        }
    }
    pieces.swap(out);
}

std::unique_ptr<PreTokenizer> makePreTokenizer(const nlohmann::json &j, const JsonWhere &where)
{
    if (j.is_null())
        return nullptr;
    const std::string type = where.typeOf(j);
    if (type == "Sequence") {
        const auto it = j.find("pretokenizers");
        if (it == j.end() || !it->is_array())
            (where / "pretokenizers").fail("must be a list");
        std::vector<std::unique_ptr<PreTokenizer>> steps;
        for (std::size_t i = 0; i < it->size(); ++i) {
            if (auto step = makePreTokenizer((*it)[i], (where / "pretokenizers")[i]))
                steps.push_back(std::move(step));
        }
        return std::make_unique<SequencePre>(std::move(steps));
    }
    if (type == "Split")
        return makeSplit(j, where);
    if (type == "ByteLevel")
        return std::make_unique<ByteLevelPre>(where.boolean(j, "add_prefix_space", false),
                                              where.boolean(j, "use_regex", true));
    if (type == "Metaspace")
        return makeMetaspace(j, where);
    if (type == "Digits") {
        const bool individual = where.boolean(j, "individual_digits", false);
        return std::make_unique<SplitPre>(
            [individual](std::string_view t, std::vector<Span> &s) {
                digitMatches(t, s, individual);
            },
            SplitBehavior::Isolated, false);
    }
    if (type == "Whitespace")
        return std::make_unique<SplitPre>(wordOrSymbolMatches, SplitBehavior::Removed, true);
    if (type == "WhitespaceSplit")
        return std::make_unique<SplitPre>(whitespaceMatches, SplitBehavior::Removed, false);
    if (type == "BertPreTokenizer") {
        // Whitespace removed, then every punctuation character a piece of its own.
        std::vector<std::unique_ptr<PreTokenizer>> steps;
        steps.push_back(
            std::make_unique<SplitPre>(whitespaceMatches, SplitBehavior::Removed, false));
        steps.push_back(
            std::make_unique<SplitPre>(bertPunctuationMatches, SplitBehavior::Isolated, false));
        return std::make_unique<SequencePre>(std::move(steps));
    }
    if (type == "Punctuation")
        return std::make_unique<SplitPre>(punctuationMatches,
                                          behaviorOf(j, where, SplitBehavior::Isolated), false);
    (where / "type").fail("'" + type + "' is not supported");
}

} // namespace qb::tok
