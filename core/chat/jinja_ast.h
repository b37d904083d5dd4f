// The pieces of the Jinja subset interpreter (chat/jinja.h) shared by its lexer, parser and
// evaluator: tokens, the syntax tree and the runtime value. Internal to core/chat.
//
// Values are JSON (nlohmann::ordered_json, so objects keep their key order as Python dicts do)
// plus the things JSON cannot hold: Jinja's undefined, a namespace() object (shared, mutable by
// `set ns.attr`) and callables (macros, global functions).
// Thread safety: a parsed tree is immutable; values are per render.
#pragma once
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace qb::jinja {

using Json = nlohmann::ordered_json;

[[noreturn]] void fail(int line, const std::string &what);

// ---- tokens --------------------------------------------------------------------------------

enum class Tok { Text, ExprBegin, ExprEnd, StmtBegin, StmtEnd, Name, String, Int, Float, Op, End };

struct Token
{
    Tok kind = Tok::End;
    std::string text; // Text content, Name, String value, number spelling or operator
    int line = 1;
};

// Splits the template into text and tag tokens, applying whitespace control ({%- -%}),
// trim_blocks and lstrip_blocks as Jinja's lexer does, and dropping comments.
std::vector<Token> tokenize(const std::string &source);

// ---- values --------------------------------------------------------------------------------

struct Value;
struct CallArgs
{
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> named;
};
using Function = std::function<Value(CallArgs &, int line)>;

struct Value
{
    enum class Kind { Undefined, Data, Namespace, Callable };
    Kind kind = Kind::Undefined;
    Json data;                      // Data
    std::shared_ptr<Json> ns;       // Namespace: an object
    std::shared_ptr<Function> call; // Callable
    std::string name;               // Undefined: the name that was missing, for messages

    Value() = default;
    Value(Json j) : kind(Kind::Data), data(std::move(j)) {}
    static Value undefined(std::string name = {})
    {
        Value v;
        v.name = std::move(name);
        return v;
    }
    bool isUndefined() const { return kind == Kind::Undefined; }
    bool isData() const { return kind == Kind::Data; }
};

// ---- syntax tree ---------------------------------------------------------------------------

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr
{
    enum class Kind {
        Literal,     // value
        Name,        // name
        List,        // items
        Dict,        // items as key, value pairs
        GetAttr,     // object . name
        GetItem,     // object [ index ]
        Slice,       // object [ a : b : c ], items = {a, b, c} (null for absent)
        Call,        // callee ( args, kwargs )
        Filter,      // object | name ( args )
        Test,        // object is [not] name ( args )
        Unary,       // op object
        Binary,      // left op right
        Conditional, // a if cond else b: items = {a, cond, b (or null)}
    };
    Kind kind;
    int line = 1;
    Json value;
    std::string name; // Name, GetAttr, Call of a method, Filter, Test, operators
    bool negated = false;
    ExprPtr object;
    ExprPtr right;
    std::vector<ExprPtr> items;
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node
{
    enum class Kind {
        Text,     // text
        Output,   // {{ expr }}
        If,       // branches: (condition, body)...; elseBody
        For,      // targets in iterable [if filter]: body; elseBody
        Set,      // targets (names, or one ns with attr) = expr, or {% set x %}body{% endset %}
        Macro,    // name(params with defaults): body
        Break,
        Continue,
        Generation, // transformers' {% generation %}: renders its body
    };
    Kind kind;
    int line = 1;
    std::string text;
    ExprPtr expr;   // Output, For iterable, Set value
    ExprPtr filter; // For's inline condition
    std::vector<std::string> targets;
    std::string attr; // Set ns.attr
    std::vector<std::pair<ExprPtr, Body>> branches;
    Body body;
    Body elseBody;
    std::vector<std::pair<std::string, ExprPtr>> params; // Macro (default may be null)
};

// Parses tokens into a body; throws qb::Error naming the line and the construct.
Body parse(const std::vector<Token> &tokens);

} // namespace qb::jinja
