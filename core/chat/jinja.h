// A small interpreter for the subset of Jinja that Hugging Face chat templates use, rendering the
// way transformers does (Jinja 3 with trim_blocks and lstrip_blocks, loop controls, no
// autoescape). Supported: text, {{ expr }}, {# comments #}, whitespace control, if/elif/else,
// for (tuple targets, inline `if`, else, loop.index/index0/revindex/revindex0/first/last/length/
// previtem/nextitem, break/continue), set (names, ns.attr, block set), macros, generation blocks;
// expressions with literals, lists, dicts, attribute/item/slice access, calls, filters, tests,
// `in`, `~`, arithmetic, comparisons, and/or/not and `a if c else b`. Filters, tests, methods and
// globals: see jinja_runtime.h and jinja_builtins.cpp.
//
// Anything else fails with a qb::Error naming the template, its line and the construct:
// "qwen2/tokenizer_config.json: chat_template line 3: unknown filter 'frobnicate'".
// Thread safety: a Template is immutable after construction; render may run concurrently.
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace qb::jinja {

struct Node;

class Template
{
public:
    // Parses source; name stands for the template in errors. Throws qb::Error on a syntax error.
    explicit Template(const std::string &source, std::string name = "template");
    ~Template();
    Template(Template &&) noexcept;
    Template &operator=(Template &&) noexcept;

    // Renders with the given top-level variables (a JSON object). Throws qb::Error when the
    // template uses something outside the subset, or calls raise_exception.
    std::string render(const nlohmann::ordered_json &variables) const;

private:
    struct Parsed;
    std::unique_ptr<Parsed> m_parsed;
    std::string m_name;
};

} // namespace qb::jinja
