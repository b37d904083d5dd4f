// Evaluation of the parsed template (jinja_ast.h) with Jinja's scoping: a for loop's body and a
// macro's body get their own frame, so `set` inside them does not leak out (namespace() is the
// way templates carry values out of loops); if blocks share the enclosing frame.
#include "chat/jinja.h"

#include "chat/jinja_runtime.h"
#include "util/error.h"

#include <cmath>
#include <map>

namespace qb::jinja {

struct Template::Parsed
{
    Body body;
};

namespace {

enum class Flow { Normal, Break, Continue };

class Evaluator
{
public:
    explicit Evaluator(const Json &variables)
    {
        m_frames.emplace_back();
        for (const auto &[k, v] : variables.items())
            m_frames.back()[k] = Value(v);
        m_frames.emplace_back(); // the template's own top-level sets
    }

    std::string run(const Body &body)
    {
        std::string out;
        const Flow flow = exec(body, out);
        (void)flow;
        return out;
    }

private:
    using Frame = std::map<std::string, Value>;

    Value lookup(const std::string &name) const
    {
        for (auto it = m_frames.rbegin(); it != m_frames.rend(); ++it) {
            const auto found = it->find(name);
            if (found != it->end())
                return found->second;
        }
        Value global = globalFunction(name);
        if (global.isUndefined())
            global.name = name;
        return global;
    }

    Flow exec(const Body &body, std::string &out)
    {
        for (const NodePtr &n : body) {
            const Flow flow = execNode(*n, out);
            if (flow != Flow::Normal)
                return flow;
        }
        return Flow::Normal;
    }

    Flow execNode(const Node &n, std::string &out)
    {
        switch (n.kind) {
        case Node::Kind::Text: out += n.text; return Flow::Normal;
        case Node::Kind::Output: out += toStr(eval(*n.expr)); return Flow::Normal;
        case Node::Kind::If:
            for (const auto &[cond, body] : n.branches) {
                if (truthy(eval(*cond)))
                    return exec(body, out);
            }
            return exec(n.elseBody, out);
        case Node::Kind::For: return execFor(n, out);
        case Node::Kind::Set: execSet(n); return Flow::Normal;
        case Node::Kind::Macro: defineMacro(n); return Flow::Normal;
        case Node::Kind::Break:
        case Node::Kind::Continue:
            if (m_loopDepth == 0)
                fail(n.line, std::string(n.kind == Node::Kind::Break ? "break" : "continue")
                                 + " outside a for loop");
            return n.kind == Node::Kind::Break ? Flow::Break : Flow::Continue;
        case Node::Kind::Generation: return exec(n.body, out);
        }
        return Flow::Normal;
    }

    void bind(Frame &frame, const std::vector<std::string> &targets, const Value &v, int line)
    {
        if (targets.size() == 1) {
            frame[targets[0]] = v;
            return;
        }
        const std::vector<Value> parts = iterate(v, line);
        if (parts.size() != targets.size())
            fail(line, "cannot unpack " + std::to_string(parts.size()) + " values into "
                           + std::to_string(targets.size()) + " names");
        for (std::size_t i = 0; i < targets.size(); ++i)
            frame[targets[i]] = parts[i];
    }

    Flow execFor(const Node &n, std::string &out)
    {
        const Value iterable = eval(*n.expr);
        if (iterable.isData() && iterable.data.is_null())
            fail(n.expr->line, "'NoneType' object is not iterable");
        std::vector<Value> items = iterate(iterable, n.expr->line);
        if (n.filter) {
            std::vector<Value> kept;
            for (const Value &item : items) {
                m_frames.emplace_back();
                bind(m_frames.back(), n.targets, item, n.line);
                const bool keep = truthy(eval(*n.filter));
                m_frames.pop_back();
                if (keep)
                    kept.push_back(item);
            }
            items = std::move(kept);
        }
        if (items.empty())
            return exec(n.elseBody, out);
        const auto length = static_cast<long long>(items.size());
        ++m_loopDepth;
        for (long long i = 0; i < length; ++i) {
            const auto at = static_cast<std::size_t>(i);
            Json loop = {{"index0", i},           {"index", i + 1},
                         {"revindex0", length - i - 1}, {"revindex", length - i},
                         {"first", i == 0},       {"last", i == length - 1},
                         {"length", length},      {"depth", 1},
                         {"depth0", 0}};
            if (i > 0 && items[at - 1].isData())
                loop["previtem"] = items[at - 1].data;
            if (i + 1 < length && items[at + 1].isData())
                loop["nextitem"] = items[at + 1].data;
            m_frames.emplace_back();
            m_frames.back()["loop"] = Value(std::move(loop));
            bind(m_frames.back(), n.targets, items[at], n.line);
            const Flow flow = exec(n.body, out);
            m_frames.pop_back();
            if (flow == Flow::Break)
                break;
        }
        --m_loopDepth;
        return Flow::Normal;
    }

    void execSet(const Node &n)
    {
        Value value;
        if (n.expr) {
            value = eval(*n.expr);
        } else {
            std::string captured;
            exec(n.body, captured);
            value = Value(captured);
        }
        if (!n.attr.empty()) {
            const Value target = lookup(n.targets[0]);
            if (target.kind != Value::Kind::Namespace)
                fail(n.line, "cannot set '" + n.attr + "' on '" + n.targets[0]
                                 + "', which is not a namespace()");
            if (value.kind == Value::Kind::Namespace)
                (*target.ns)[n.attr] = *value.ns;
            else if (value.isData())
                (*target.ns)[n.attr] = value.data;
            else
                fail(n.line, "cannot store a " + typeName(value) + " in a namespace");
            return;
        }
        bind(m_frames.back(), n.targets, value, n.line);
    }

    void defineMacro(const Node &n)
    {
        Function f = [this, &n](CallArgs &args, int line) -> Value {
            Frame frame;
            std::size_t next = 0;
            for (const auto &[param, def] : n.params) {
                std::optional<Value> v;
                for (const auto &[key, value] : args.named) {
                    if (key == param)
                        v = value;
                }
                if (!v && next < args.positional.size())
                    v = args.positional[next];
                ++next;
                if (!v)
                    v = def ? eval(*def) : Value::undefined(param);
                frame[param] = *v;
            }
            if (args.positional.size() > n.params.size())
                fail(line, "macro '" + n.text + "' takes " + std::to_string(n.params.size())
                               + " arguments, got " + std::to_string(args.positional.size()));
            std::vector<Frame> saved = std::move(m_frames);
            m_frames = {saved[0], saved[1], std::move(frame)};
            const int savedDepth = m_loopDepth;
            m_loopDepth = 0;
            std::string out;
            exec(n.body, out);
            m_loopDepth = savedDepth;
            m_frames = std::move(saved);
            return Value(out);
        };
        Value v;
        v.kind = Value::Kind::Callable;
        v.call = std::make_shared<Function>(std::move(f));
        m_frames.back()[n.text] = v;
    }

    CallArgs evalArgs(const Expr &e)
    {
        CallArgs args;
        for (const ExprPtr &item : e.items)
            args.positional.push_back(eval(*item));
        for (const auto &[key, value] : e.kwargs)
            args.named.emplace_back(key, eval(*value));
        return args;
    }

    std::optional<long long> sliceBound(const ExprPtr &e)
    {
        if (!e)
            return std::nullopt;
        const Value v = eval(*e);
        if (v.isData() && v.data.is_null())
            return std::nullopt;
        if (!v.isData() || !v.data.is_number_integer())
            fail(e->line, "slice bounds must be integers");
        return v.data.get<long long>();
    }

    Value eval(const Expr &e)
    {
        switch (e.kind) {
        case Expr::Kind::Literal: return Value(e.value);
        case Expr::Kind::Name: return lookup(e.name);
        case Expr::Kind::List: {
            Json out = Json::array();
            for (const ExprPtr &item : e.items)
                out.push_back(toData(eval(*item), item->line, "stored in a list or dict"));
            return Value(std::move(out));
        }
        case Expr::Kind::Dict: {
            Json out = Json::object();
            for (std::size_t i = 0; i + 1 < e.items.size(); i += 2) {
                const Value key = eval(*e.items[i]);
                if (!key.isData() || !key.data.is_string())
                    fail(e.line, "dict keys must be strings here");
                out[key.data.get<std::string>()]
                    = toData(eval(*e.items[i + 1]), e.line, "stored in a list or dict");
            }
            return Value(std::move(out));
        }
        case Expr::Kind::GetAttr: return getAttr(eval(*e.object), e.name, e.line);
        case Expr::Kind::GetItem: return getItem(eval(*e.object), eval(*e.items[0]), e.line);
        case Expr::Kind::Slice:
            return getSlice(eval(*e.object), sliceBound(e.items[0]), sliceBound(e.items[1]),
                            sliceBound(e.items[2]), e.line);
        case Expr::Kind::Call: return evalCall(e);
        case Expr::Kind::Filter: {
            const Value self = eval(*e.object);
            CallArgs args = evalArgs(e);
            return applyFilter(e.name, self, args, e.line);
        }
        case Expr::Kind::Test: {
            const Value self = eval(*e.object);
            CallArgs args = evalArgs(e);
            return Value(applyTest(e.name, self, args, e.line) != e.negated);
        }
        case Expr::Kind::Unary: return evalUnary(e);
        case Expr::Kind::Binary: return evalBinary(e);
        case Expr::Kind::Conditional:
            if (truthy(eval(*e.items[1])))
                return eval(*e.items[0]);
            return e.items[2] ? eval(*e.items[2]) : Value::undefined();
        }
        fail(e.line, "unsupported expression");
    }

    Value evalCall(const Expr &e)
    {
        if (e.object->kind == Expr::Kind::GetAttr) {
            const Value self = eval(*e.object->object);
            CallArgs args = evalArgs(e);
            if (auto result = callMethod(self, e.object->name, args, e.line))
                return *result;
            const Value callee = getAttr(self, e.object->name, e.line);
            if (callee.kind != Value::Kind::Callable)
                fail(e.line, "'" + e.object->name + "' is not a method of a " + typeName(self)
                                 + " that templates may call");
            return (*callee.call)(args, e.line);
        }
        const Value callee = eval(*e.object);
        if (callee.kind != Value::Kind::Callable) {
            const std::string what = e.object->kind == Expr::Kind::Name
                ? "'" + e.object->name + "'"
                : "a " + typeName(callee);
            fail(e.line, what + (callee.isUndefined() ? " is undefined" : " is not callable"));
        }
        CallArgs args = evalArgs(e);
        return (*callee.call)(args, e.line);
    }

    Value evalUnary(const Expr &e)
    {
        const Value v = eval(*e.object);
        if (e.name == "not")
            return Value(!truthy(v));
        if (!v.isData() || !v.data.is_number())
            fail(e.line, "unary " + e.name + " needs a number, not " + typeName(v));
        if (e.name == "+")
            return v;
        if (v.data.is_number_integer())
            return Value(-v.data.get<long long>());
        return Value(-v.data.get<double>());
    }

    Value evalBinary(const Expr &e)
    {
        const std::string &op = e.name;
        if (op == "and") {
            const Value left = eval(*e.object);
            return truthy(left) ? eval(*e.right) : left;
        }
        if (op == "or") {
            const Value left = eval(*e.object);
            return truthy(left) ? left : eval(*e.right);
        }
        const Value a = eval(*e.object);
        const Value b = eval(*e.right);
        if (op == "==")
            return Value(equals(a, b));
        if (op == "!=")
            return Value(!equals(a, b));
        if (op == "<")
            return Value(less(a, b, e.line));
        if (op == ">")
            return Value(less(b, a, e.line));
        if (op == "<=")
            return Value(!less(b, a, e.line));
        if (op == ">=")
            return Value(!less(a, b, e.line));
        if (op == "in" || op == "not in")
            return Value(contains(b, a, e.line) == (op == "in"));
        if (op == "~")
            return Value(toStr(a) + toStr(b));
        return arithmetic(op, a, b, e.line);
    }

    static bool contains(const Value &container, const Value &item, int line)
    {
        if (container.isData() && container.data.is_string()) {
            if (!item.isData() || !item.data.is_string())
                fail(line, "'in <string>' needs a string on the left, not " + typeName(item));
            return container.data.get_ref<const std::string &>().find(
                       item.data.get_ref<const std::string &>())
                != std::string::npos;
        }
        if (container.isData() && container.data.is_object())
            return item.isData() && item.data.is_string() && container.data.contains(item.data);
        if (container.isUndefined() || !container.isData() || !container.data.is_array())
            fail(line, "'in' needs a string, list or mapping on the right, not "
                           + typeName(container));
        for (const Json &x : container.data) {
            if (equals(Value(x), item))
                return true;
        }
        return false;
    }

    static Value arithmetic(const std::string &op, const Value &a, const Value &b, int line)
    {
        const auto bad = [&]() -> Value {
            fail(line, "unsupported operand types for " + op + ": " + typeName(a) + " and "
                           + typeName(b));
        };
        if (!a.isData() || !b.isData())
            return bad();
        const Json &x = a.data;
        const Json &y = b.data;
        if (op == "+") {
            if (x.is_string() && y.is_string())
                return Value(x.get<std::string>() + y.get<std::string>());
            if (x.is_array() && y.is_array()) {
                Json out = x;
                out.insert(out.end(), y.begin(), y.end());
                return Value(std::move(out));
            }
        }
        if (op == "*" && x.is_string() && y.is_number_integer()) {
            std::string out;
            for (long long i = 0; i < y.get<long long>(); ++i)
                out += x.get<std::string>();
            return Value(out);
        }
        if (!(x.is_number() || x.is_boolean()) || !(y.is_number() || y.is_boolean()))
            return bad();
        const bool ints = !x.is_number_float() && !y.is_number_float();
        const auto asLong = [](const Json &j) {
            return j.is_boolean() ? static_cast<long long>(j.get<bool>()) : j.get<long long>();
        };
        const auto asDouble = [](const Json &j) {
            return j.is_boolean() ? (j.get<bool>() ? 1.0 : 0.0) : j.get<double>();
        };
        if (ints && op != "/" && op != "**") {
            const long long p = asLong(x), q = asLong(y);
            if (op == "+")
                return Value(p + q);
            if (op == "-")
                return Value(p - q);
            if (op == "*")
                return Value(p * q);
            if (q == 0)
                fail(line, "division by zero");
            long long quotient = p / q;
            if ((p % q != 0) && ((p < 0) != (q < 0)))
                --quotient; // Python floors
            if (op == "//")
                return Value(quotient);
            if (op == "%")
                return Value(p - quotient * q);
        }
        const double p = asDouble(x), q = asDouble(y);
        if (op == "+")
            return Value(p + q);
        if (op == "-")
            return Value(p - q);
        if (op == "*")
            return Value(p * q);
        if (op == "**") {
            if (ints && asLong(y) >= 0)
                return Value(static_cast<long long>(std::llround(std::pow(p, q))));
            return Value(std::pow(p, q));
        }
        if (q == 0)
            fail(line, "division by zero");
        if (op == "/")
            return Value(p / q);
        if (op == "//")
            return Value(std::floor(p / q));
        if (op == "%")
            return Value(p - std::floor(p / q) * q);
        return bad();
    }

    std::vector<Frame> m_frames;
    int m_loopDepth = 0;
};

} // namespace

Template::Template(const std::string &source, std::string name)
    : m_parsed(std::make_unique<Parsed>()), m_name(std::move(name))
{
    try {
        m_parsed->body = parse(tokenize(source));
    } catch (const Error &e) {
        throw Error(m_name + " " + e.what());
    }
}

Template::~Template() = default;
Template::Template(Template &&) noexcept = default;
Template &Template::operator=(Template &&) noexcept = default;

std::string Template::render(const nlohmann::ordered_json &variables) const
{
    if (!variables.is_object())
        throw Error(m_name + ": the variables must be a JSON object");
    try {
        return Evaluator(variables).run(m_parsed->body);
    } catch (const Error &e) {
        throw Error(m_name + " " + e.what());
    }
}

} // namespace qb::jinja
