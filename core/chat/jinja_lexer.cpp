// Jinja's lexer for the subset: text, {{ }}, {% %} and {# #} with whitespace control, as Jinja
// 3 does it with trim_blocks and lstrip_blocks on (transformers' settings): \r\n and \r become \n,
// one trailing newline of the template is dropped, "{%-"/"-%}" strip all whitespace on that side,
// a block or comment tag eats the newline right after it, and spaces/tabs before a block or
// comment tag that starts its line are removed ("{%+" keeps them).
#include "chat/jinja_ast.h"

#include "util/error.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace qb::jinja {

void fail(int line, const std::string &what)
{
    throw Error("line " + std::to_string(line) + ": " + what);
}

namespace {

bool isSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string normalizeNewlines(const std::string &in)
{
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '\r') {
            out += '\n';
            if (i + 1 < in.size() && in[i + 1] == '\n')
                ++i;
        } else {
            out += in[i];
        }
    }
    if (!out.empty() && out.back() == '\n')
        out.pop_back();
    return out;
}

class Lexer
{
public:
    explicit Lexer(std::string source) : m_src(std::move(source)) {}

    std::vector<Token> run()
    {
        std::size_t textStart = 0;
        bool stripNext = false; // the previous tag ended with "-"
        while (true) {
            const std::size_t tag = findTag(textStart);
            std::string text = m_src.substr(textStart, tag - textStart);
            const int textLine = m_line;
            if (stripNext) {
                std::size_t k = 0;
                while (k < text.size() && isSpace(text[k]))
                    ++k;
                text.erase(0, k);
            }
            if (tag == m_src.size()) {
                emitText(text, textLine);
                break;
            }
            const char kind = m_src[tag + 1]; // '{', '%' or '#'
            const char sign = tag + 2 < m_src.size() ? m_src[tag + 2] : 0;
            if (sign == '-') {
                while (!text.empty() && isSpace(text.back()))
                    text.pop_back();
            } else if (sign != '+' && kind != '{') {
                // lstrip_blocks: only spaces/tabs between the line start and the tag.
                const std::size_t nl = text.rfind('\n');
                const std::size_t lineStart = nl == std::string::npos ? 0 : nl + 1;
                const bool lineStarting = nl != std::string::npos || textStart == 0
                    || m_src[textStart - 1] == '\n';
                if (lineStarting && lineStart < text.size()
                    && text.find_first_not_of(" \t\f\v\r", lineStart) == std::string::npos)
                    text.erase(lineStart);
            }
            emitText(text, textLine);
            advanceLines(textStart, tag);
            std::size_t pos = tag + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
            if (kind == '#')
                pos = skipComment(pos, stripNext);
            else
                pos = lexTag(pos, kind == '{', stripNext);
            textStart = pos;
        }
        m_tokens.push_back({Tok::End, {}, m_line});
        return std::move(m_tokens);
    }

private:
    std::size_t findTag(std::size_t from) const
    {
        for (std::size_t i = from; i + 1 < m_src.size(); ++i) {
            if (m_src[i] == '{' && (m_src[i + 1] == '{' || m_src[i + 1] == '%'
                                    || m_src[i + 1] == '#'))
                return i;
        }
        return m_src.size();
    }

    void advanceLines(std::size_t from, std::size_t to)
    {
        for (std::size_t i = from; i < to; ++i)
            m_line += m_src[i] == '\n';
    }

    void emitText(const std::string &text, int line)
    {
        if (!text.empty())
            m_tokens.push_back({Tok::Text, text, line});
    }

    // After a tag's closing delimiter: "-" strips the next text's leading whitespace; a block or
    // comment tag without "+" eats one newline (trim_blocks).
    std::size_t afterClose(std::size_t end, char sign, bool block, bool &stripNext)
    {
        stripNext = sign == '-';
        if (block && sign != '+' && sign != '-' && end < m_src.size() && m_src[end] == '\n') {
            ++m_line;
            return end + 1;
        }
        return end;
    }

    std::size_t skipComment(std::size_t pos, bool &stripNext)
    {
        const std::size_t close = m_src.find("#}", pos);
        if (close == std::string::npos)
            fail(m_line, "comment {# is not closed");
        const char sign = close > pos && (m_src[close - 1] == '-' || m_src[close - 1] == '+')
            ? m_src[close - 1]
            : 0;
        advanceLines(pos, close);
        return afterClose(close + 2, sign, true, stripNext);
    }

    std::size_t lexTag(std::size_t pos, bool expr, bool &stripNext)
    {
        const int openLine = m_line;
        m_tokens.push_back({expr ? Tok::ExprBegin : Tok::StmtBegin, {}, m_line});
        const char closeChar = expr ? '}' : '%';
        int depth = 0; // brackets: "}}" inside a dict literal is not the end
        while (true) {
            if (pos >= m_src.size())
                fail(openLine, std::string(expr ? "{{" : "{%") + " is not closed");
            const char c = m_src[pos];
            if (isSpace(c)) {
                m_line += c == '\n';
                ++pos;
                continue;
            }
            // Closing delimiter, with optional "-" / "+" before it.
            for (const char sign : {'-', '+', '\0'}) {
                const std::size_t at = pos + (sign ? 1 : 0);
                if (depth == 0 && (!sign || c == sign) && at + 1 < m_src.size()
                    && m_src[at] == closeChar && m_src[at + 1] == '}') {
                    m_tokens.push_back({expr ? Tok::ExprEnd : Tok::StmtEnd, {}, m_line});
                    return afterClose(at + 2, sign, !expr, stripNext);
                }
            }
            if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
                std::size_t end = pos;
                const auto wordChar = [&](char x) {
                    return std::isalnum(static_cast<unsigned char>(x)) || x == '_';
                };
                while (end < m_src.size() && wordChar(m_src[end]))
                    ++end;
                m_tokens.push_back({Tok::Name, m_src.substr(pos, end - pos), m_line});
                pos = end;
            } else if (std::isdigit(static_cast<unsigned char>(c))) {
                pos = lexNumber(pos);
            } else if (c == '\'' || c == '"') {
                pos = lexString(pos);
            } else {
                static const char *kOps[] = {"//", "**", "==", "!=", "<=", ">=", "(", ")", "[", "]",
                                             "{",  "}",  ".",  ",",  ":",  "|",  "+", "-", "*", "/",
                                             "%",  "~",  "<",  ">",  "="};
                const char *op = nullptr;
                for (const char *candidate : kOps) {
                    if (m_src.compare(pos, std::strlen(candidate), candidate) == 0) {
                        op = candidate;
                        break;
                    }
                }
                if (!op)
                    fail(m_line, std::string("unexpected character '") + c + "' in a tag");
                if (*op == '(' || *op == '[' || *op == '{')
                    ++depth;
                if ((*op == ')' || *op == ']' || *op == '}') && depth > 0)
                    --depth;
                m_tokens.push_back({Tok::Op, op, m_line});
                pos += std::strlen(op);
            }
        }
    }

    std::size_t lexNumber(std::size_t pos)
    {
        std::size_t end = pos;
        bool isFloat = false;
        while (end < m_src.size() && (std::isdigit(static_cast<unsigned char>(m_src[end]))
                                      || m_src[end] == '_'))
            ++end;
        if (end + 1 < m_src.size() && m_src[end] == '.'
            && std::isdigit(static_cast<unsigned char>(m_src[end + 1]))) {
            isFloat = true;
            ++end;
            while (end < m_src.size() && std::isdigit(static_cast<unsigned char>(m_src[end])))
                ++end;
        }
        if (end < m_src.size() && (m_src[end] == 'e' || m_src[end] == 'E')) {
            std::size_t e = end + 1;
            if (e < m_src.size() && (m_src[e] == '+' || m_src[e] == '-'))
                ++e;
            if (e < m_src.size() && std::isdigit(static_cast<unsigned char>(m_src[e]))) {
                isFloat = true;
                end = e;
                while (end < m_src.size() && std::isdigit(static_cast<unsigned char>(m_src[end])))
                    ++end;
            }
        }
        std::string spelling = m_src.substr(pos, end - pos);
        spelling.erase(std::remove(spelling.begin(), spelling.end(), '_'), spelling.end());
        m_tokens.push_back({isFloat ? Tok::Float : Tok::Int, spelling, m_line});
        return end;
    }

    // Python string literal escapes: \n \t \r \\ \' \" \0 \xHH \uHHHH; others stay as written.
    std::size_t lexString(std::size_t pos)
    {
        const char quote = m_src[pos];
        const int line = m_line;
        std::string value;
        std::size_t i = pos + 1;
        for (;; ++i) {
            if (i >= m_src.size())
                fail(line, "string literal is not closed");
            const char c = m_src[i];
            if (c == quote)
                break;
            if (c == '\n')
                ++m_line;
            if (c != '\\' || i + 1 >= m_src.size()) {
                value += c;
                continue;
            }
            const char e = m_src[++i];
            switch (e) {
            case 'n': value += '\n'; break;
            case 't': value += '\t'; break;
            case 'r': value += '\r'; break;
            case '0': value += '\0'; break;
            case '\\': value += '\\'; break;
            case '\'': value += '\''; break;
            case '"': value += '"'; break;
            case '\n': ++m_line; break;
            case 'x':
            case 'u': {
                const std::size_t digits = e == 'x' ? 2 : 4;
                if (i + digits >= m_src.size())
                    fail(m_line, "bad \\" + std::string(1, e) + " escape in a string literal");
                const unsigned long cp = std::stoul(m_src.substr(i + 1, digits), nullptr, 16);
                appendCodePoint(value, static_cast<char32_t>(cp));
                i += digits;
                break;
            }
            default:
                value += '\\';
                value += e;
            }
        }
        m_tokens.push_back({Tok::String, value, line});
        return i + 1;
    }

    static void appendCodePoint(std::string &out, char32_t cp)
    {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    std::string m_src;
    std::vector<Token> m_tokens;
    int m_line = 1;
};

} // namespace

std::vector<Token> tokenize(const std::string &source)
{
    return Lexer(normalizeNewlines(source)).run();
}

} // namespace qb::jinja
