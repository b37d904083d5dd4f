// Recursive-descent parser for the Jinja subset, with Jinja's operator precedence (lowest first):
// conditional `a if c else b`, or, and, not, comparisons and `in`, + -, ~, * / // %, **, unary
// minus, then postfix `.attr`, `[index]`, `[a:b:c]`, `(args)`, `| filter` and `is test`.
#include "chat/jinja_ast.h"

#include <set>

namespace qb::jinja {

namespace {

class Parser
{
public:
    explicit Parser(const std::vector<Token> &tokens) : m_t(tokens) {}

    Body parseTemplate()
    {
        std::string stop;
        Body body = parseBody({}, stop);
        return body;
    }

private:
    const Token &cur() const { return m_t[m_pos]; }
    const Token &next() { return m_t[m_pos++]; }
    bool isOp(const char *op) const { return cur().kind == Tok::Op && cur().text == op; }
    bool isName(const char *name) const { return cur().kind == Tok::Name && cur().text == name; }
    bool acceptOp(const char *op)
    {
        if (!isOp(op))
            return false;
        ++m_pos;
        return true;
    }
    bool acceptName(const char *name)
    {
        if (!isName(name))
            return false;
        ++m_pos;
        return true;
    }
    std::string describe(const Token &t) const
    {
        switch (t.kind) {
        case Tok::End: return "the end of the template";
        case Tok::Text: return "text";
        case Tok::ExprEnd: return "'}}'";
        case Tok::StmtEnd: return "'%}'";
        case Tok::ExprBegin: return "'{{'";
        case Tok::StmtBegin: return "'{%'";
        case Tok::String: return "string '" + t.text + "'";
        default: return "'" + t.text + "'";
        }
    }
    void expectOp(const char *op)
    {
        if (!acceptOp(op))
            fail(cur().line, std::string("expected '") + op + "', found " + describe(cur()));
    }
    std::string expectName()
    {
        if (cur().kind != Tok::Name)
            fail(cur().line, "expected a name, found " + describe(cur()));
        return next().text;
    }
    void expectStmtEnd()
    {
        if (cur().kind != Tok::StmtEnd)
            fail(cur().line, "expected '%}', found " + describe(cur()));
        ++m_pos;
    }

    // Parses nodes until a {% tag %} whose keyword is in stops (returned in stop, tag keyword
    // consumed, rest of the tag not) or the end of the template.
    Body parseBody(const std::set<std::string> &stops, std::string &stop,
                   const std::string &opener = {}, int openLine = 0)
    {
        Body body;
        while (true) {
            const Token &t = cur();
            if (t.kind == Tok::End) {
                if (!stops.empty())
                    fail(t.line, "the template ends inside the '" + opener + "' block of line "
                                     + std::to_string(openLine));
                return body;
            }
            if (t.kind == Tok::Text) {
                auto n = node(Node::Kind::Text, t.line);
                n->text = t.text;
                body.push_back(std::move(n));
                ++m_pos;
            } else if (t.kind == Tok::ExprBegin) {
                ++m_pos;
                auto n = node(Node::Kind::Output, t.line);
                n->expr = parseExpression();
                if (cur().kind != Tok::ExprEnd)
                    fail(cur().line, "expected '}}', found " + describe(cur()));
                ++m_pos;
                body.push_back(std::move(n));
            } else if (t.kind == Tok::StmtBegin) {
                ++m_pos;
                const Token &kw = cur();
                if (kw.kind != Tok::Name)
                    fail(kw.line, "expected a tag name after '{%', found " + describe(kw));
                if (stops.count(kw.text)) {
                    stop = kw.text;
                    ++m_pos;
                    return body;
                }
                body.push_back(parseStatement());
            } else {
                fail(t.line, "unexpected " + describe(t));
            }
        }
    }

    static NodePtr node(Node::Kind kind, int line)
    {
        auto n = std::make_unique<Node>();
        n->kind = kind;
        n->line = line;
        return n;
    }

    NodePtr parseStatement()
    {
        const Token &kw = next();
        const int line = kw.line;
        const std::string &k = kw.text;
        if (k == "if") {
            auto n = node(Node::Kind::If, line);
            ExprPtr cond = parseExpression();
            expectStmtEnd();
            while (true) {
                std::string stop;
                Body body = parseBody({"elif", "else", "endif"}, stop, "if", line);
                n->branches.emplace_back(std::move(cond), std::move(body));
                if (stop == "elif") {
                    cond = parseExpression();
                    expectStmtEnd();
                    continue;
                }
                expectStmtEnd();
                if (stop == "else") {
                    n->elseBody = parseBody({"endif"}, stop, "if", line);
                    expectStmtEnd();
                }
                return n;
            }
        }
        if (k == "for") {
            auto n = node(Node::Kind::For, line);
            do {
                n->targets.push_back(expectName());
            } while (acceptOp(","));
            if (!acceptName("in"))
                fail(cur().line, "expected 'in' in the for tag, found " + describe(cur()));
            n->expr = parseExpression(false);
            if (acceptName("if"))
                n->filter = parseExpression(false);
            if (isName("recursive"))
                fail(cur().line, "recursive for loops are not supported");
            expectStmtEnd();
            std::string stop;
            n->body = parseBody({"else", "endfor"}, stop, "for", line);
            expectStmtEnd();
            if (stop == "else") {
                n->elseBody = parseBody({"endfor"}, stop, "for", line);
                expectStmtEnd();
            }
            return n;
        }
        if (k == "set") {
            auto n = node(Node::Kind::Set, line);
            n->targets.push_back(expectName());
            if (acceptOp(".")) {
                n->attr = expectName();
            } else {
                while (acceptOp(","))
                    n->targets.push_back(expectName());
            }
            if (acceptOp("=")) {
                n->expr = parseExpression();
                expectStmtEnd();
                return n;
            }
            if (n->targets.size() != 1 || !n->attr.empty())
                fail(cur().line, "expected '=' in the set tag, found " + describe(cur()));
            expectStmtEnd();
            std::string stop;
            n->body = parseBody({"endset"}, stop, "set", line);
            expectStmtEnd();
            return n;
        }
        if (k == "macro") {
            auto n = node(Node::Kind::Macro, line);
            n->text = expectName();
            expectOp("(");
            while (!acceptOp(")")) {
                std::string param = expectName();
                ExprPtr def;
                if (acceptOp("="))
                    def = parseExpression();
                n->params.emplace_back(std::move(param), std::move(def));
                if (!isOp(")"))
                    expectOp(",");
            }
            expectStmtEnd();
            std::string stop;
            n->body = parseBody({"endmacro"}, stop, "macro", line);
            if (cur().kind == Tok::Name)
                ++m_pos; // {% endmacro name %}
            expectStmtEnd();
            return n;
        }
        if (k == "break" || k == "continue") {
            expectStmtEnd();
            return node(k == "break" ? Node::Kind::Break : Node::Kind::Continue, line);
        }
        if (k == "generation") {
            auto n = node(Node::Kind::Generation, line);
            expectStmtEnd();
            std::string stop;
            n->body = parseBody({"endgeneration"}, stop, "generation", line);
            expectStmtEnd();
            return n;
        }
        static const std::set<std::string> kEnds = {"endif", "endfor", "endset", "endmacro",
                                                    "elif", "else", "endgeneration"};
        if (kEnds.count(k))
            fail(line, "{% " + k + " %} without a matching opening tag");
        fail(line, "unsupported tag '" + k + "'");
    }

    // ---- expressions ----

    static ExprPtr expr(Expr::Kind kind, int line)
    {
        auto e = std::make_unique<Expr>();
        e->kind = kind;
        e->line = line;
        return e;
    }

    ExprPtr parseExpression(bool withCondition = true)
    {
        ExprPtr e = parseOr();
        if (!withCondition)
            return e;
        while (isName("if")) {
            const int line = next().line;
            auto c = expr(Expr::Kind::Conditional, line);
            ExprPtr cond = parseOr();
            ExprPtr otherwise;
            if (acceptName("else"))
                otherwise = parseExpression();
            c->items.push_back(std::move(e));
            c->items.push_back(std::move(cond));
            c->items.push_back(std::move(otherwise));
            e = std::move(c);
        }
        return e;
    }

    ExprPtr binary(std::string op, ExprPtr left, ExprPtr right, int line)
    {
        auto b = expr(Expr::Kind::Binary, line);
        b->name = std::move(op);
        b->object = std::move(left);
        b->right = std::move(right);
        return b;
    }

    ExprPtr parseOr()
    {
        ExprPtr e = parseAnd();
        while (isName("or")) {
            const int line = next().line;
            e = binary("or", std::move(e), parseAnd(), line);
        }
        return e;
    }

    ExprPtr parseAnd()
    {
        ExprPtr e = parseNot();
        while (isName("and")) {
            const int line = next().line;
            e = binary("and", std::move(e), parseNot(), line);
        }
        return e;
    }

    ExprPtr parseNot()
    {
        if (isName("not")) {
            auto u = expr(Expr::Kind::Unary, next().line);
            u->name = "not";
            u->object = parseNot();
            return u;
        }
        return parseCompare();
    }

    ExprPtr parseCompare()
    {
        ExprPtr e = parseMath1();
        while (true) {
            const int line = cur().line;
            std::string op;
            if (cur().kind == Tok::Op
                && (cur().text == "==" || cur().text == "!=" || cur().text == "<"
                    || cur().text == ">" || cur().text == "<=" || cur().text == ">=")) {
                op = next().text;
            } else if (isName("in")) {
                ++m_pos;
                op = "in";
            } else if (isName("not") && m_t[m_pos + 1].kind == Tok::Name
                       && m_t[m_pos + 1].text == "in") {
                m_pos += 2;
                op = "not in";
            } else {
                return e;
            }
            e = binary(op, std::move(e), parseMath1(), line);
        }
    }

    ExprPtr parseMath1()
    {
        ExprPtr e = parseConcat();
        while (isOp("+") || isOp("-")) {
            const Token &t = next();
            e = binary(t.text, std::move(e), parseConcat(), t.line);
        }
        return e;
    }

    ExprPtr parseConcat()
    {
        ExprPtr e = parseMath2();
        while (isOp("~")) {
            const int line = next().line;
            e = binary("~", std::move(e), parseMath2(), line);
        }
        return e;
    }

    ExprPtr parseMath2()
    {
        ExprPtr e = parsePow();
        while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
            const Token &t = next();
            e = binary(t.text, std::move(e), parsePow(), t.line);
        }
        return e;
    }

    ExprPtr parsePow()
    {
        ExprPtr e = parseUnary();
        while (isOp("**")) {
            const int line = next().line;
            e = binary("**", std::move(e), parseUnary(), line);
        }
        return e;
    }

    ExprPtr parseUnary(bool withFilter = true)
    {
        ExprPtr e;
        if (isOp("-") || isOp("+")) {
            const Token &t = next();
            e = expr(Expr::Kind::Unary, t.line);
            e->name = t.text;
            e->object = parseUnary(false);
        } else {
            e = parsePostfix(parsePrimary());
        }
        return withFilter ? parseFilters(std::move(e)) : std::move(e);
    }

    ExprPtr parsePrimary()
    {
        const Token &t = next();
        switch (t.kind) {
        case Tok::Name: {
            static const std::set<std::string> kTrue = {"true", "True"};
            static const std::set<std::string> kFalse = {"false", "False"};
            static const std::set<std::string> kNone = {"none", "None"};
            auto e = expr(Expr::Kind::Literal, t.line);
            if (kTrue.count(t.text))
                e->value = true;
            else if (kFalse.count(t.text))
                e->value = false;
            else if (kNone.count(t.text))
                e->value = nullptr;
            else {
                e->kind = Expr::Kind::Name;
                e->name = t.text;
            }
            return e;
        }
        case Tok::String: {
            auto e = expr(Expr::Kind::Literal, t.line);
            std::string s = t.text;
            while (cur().kind == Tok::String) // adjacent literals concatenate
                s += next().text;
            e->value = s;
            return e;
        }
        case Tok::Int:
        case Tok::Float: {
            auto e = expr(Expr::Kind::Literal, t.line);
            try {
                if (t.kind == Tok::Int)
                    e->value = std::stoll(t.text);
                else
                    e->value = std::stod(t.text);
            } catch (const std::exception &) {
                fail(t.line, "number '" + t.text + "' is out of range");
            }
            return e;
        }
        case Tok::Op:
            if (t.text == "(") {
                if (acceptOp(")"))
                    return expr(Expr::Kind::List, t.line); // empty tuple
                ExprPtr e = parseExpression();
                if (isOp(",")) { // a tuple: kept as a list
                    auto list = expr(Expr::Kind::List, t.line);
                    list->items.push_back(std::move(e));
                    while (acceptOp(",") && !isOp(")"))
                        list->items.push_back(parseExpression());
                    e = std::move(list);
                }
                expectOp(")");
                return e;
            }
            if (t.text == "[") {
                auto list = expr(Expr::Kind::List, t.line);
                while (!acceptOp("]")) {
                    list->items.push_back(parseExpression());
                    if (!isOp("]"))
                        expectOp(",");
                }
                return list;
            }
            if (t.text == "{") {
                auto dict = expr(Expr::Kind::Dict, t.line);
                while (!acceptOp("}")) {
                    dict->items.push_back(parseExpression());
                    expectOp(":");
                    dict->items.push_back(parseExpression());
                    if (!isOp("}"))
                        expectOp(",");
                }
                return dict;
            }
            break;
        default:
            break;
        }
        fail(t.line, "unexpected " + describe(t) + " in an expression");
    }

    void parseCallArgs(Expr &call)
    {
        // After "(": positional and name=value arguments up to ")".
        while (!acceptOp(")")) {
            if (cur().kind == Tok::Name && m_t[m_pos + 1].kind == Tok::Op
                && m_t[m_pos + 1].text == "=") {
                std::string key = next().text;
                ++m_pos;
                call.kwargs.emplace_back(std::move(key), parseExpression());
            } else {
                call.items.push_back(parseExpression());
            }
            if (!isOp(")"))
                expectOp(",");
        }
    }

    ExprPtr parsePostfix(ExprPtr e)
    {
        while (true) {
            const int line = cur().line;
            if (acceptOp(".")) {
                auto g = expr(Expr::Kind::GetAttr, line);
                if (cur().kind == Tok::Int) {
                    g->kind = Expr::Kind::GetItem;
                    auto index = expr(Expr::Kind::Literal, line);
                    index->value = std::stoll(next().text);
                    g->items.push_back(std::move(index));
                } else {
                    g->name = expectName();
                }
                g->object = std::move(e);
                e = std::move(g);
            } else if (acceptOp("[")) {
                ExprPtr parts[3];
                int part = 0;
                bool slice = false;
                while (!isOp("]")) {
                    if (acceptOp(":")) {
                        slice = true;
                        if (++part > 2)
                            fail(line, "a slice has at most three parts");
                        continue;
                    }
                    if (parts[part])
                        fail(cur().line, "expected ']', found " + describe(cur()));
                    parts[part] = parseExpression();
                }
                ++m_pos;
                auto g = expr(slice ? Expr::Kind::Slice : Expr::Kind::GetItem, line);
                if (!slice && !parts[0])
                    fail(line, "empty subscript []");
                for (int i = 0; i < (slice ? 3 : 1); ++i)
                    g->items.push_back(std::move(parts[i]));
                g->object = std::move(e);
                e = std::move(g);
            } else if (acceptOp("(")) {
                auto c = expr(Expr::Kind::Call, line);
                c->object = std::move(e);
                parseCallArgs(*c);
                e = std::move(c);
            } else {
                return e;
            }
        }
    }

    ExprPtr parseFilters(ExprPtr e)
    {
        while (true) {
            const int line = cur().line;
            if (acceptOp("|")) {
                auto f = expr(Expr::Kind::Filter, line);
                f->name = expectName();
                while (acceptOp("."))
                    f->name += "." + expectName();
                if (acceptOp("("))
                    parseCallArgs(*f);
                f->object = std::move(e);
                e = std::move(f);
            } else if (acceptName("is")) {
                auto t = expr(Expr::Kind::Test, line);
                t->negated = acceptName("not");
                t->name = expectName();
                if (acceptOp("(")) {
                    parseCallArgs(*t);
                } else if ((cur().kind == Tok::Name || cur().kind == Tok::String
                            || cur().kind == Tok::Int || cur().kind == Tok::Float
                            || isOp("[") || isOp("{"))
                           && !isName("else") && !isName("or") && !isName("and")
                           && !isName("if") && !isName("in") && !isName("not")
                           && !isName("is")) {
                    t->items.push_back(parsePostfix(parsePrimary()));
                }
                t->object = std::move(e);
                e = std::move(t);
            } else if (isOp("(") && e->kind == Expr::Kind::Filter) {
                ++m_pos;
                auto c = expr(Expr::Kind::Call, line);
                c->object = std::move(e);
                parseCallArgs(*c);
                e = std::move(c);
            } else {
                return e;
            }
        }
    }

    const std::vector<Token> &m_t;
    std::size_t m_pos = 0;
};

} // namespace

Body parse(const std::vector<Token> &tokens)
{
    return Parser(tokens).parseTemplate();
}

} // namespace qb::jinja
