// Python semantics the Jinja subset needs, over jinja::Value: truthiness, str() and repr(),
// transformers' tojson (json.dumps with ensure_ascii=False), equality and ordering, indexing and
// slicing (strings by code point), and the built-in filters, tests, methods and globals.
// Internal to core/chat. Thread safety: pure functions.
#pragma once
#include "chat/jinja_ast.h"

#include <optional>

namespace qb::jinja {

bool truthy(const Value &v);
// Python's str(): "None", "True", 1.5, ['a', 1]; undefined prints as "".
std::string toStr(const Value &v);
std::string repr(const Json &j);
// json.dumps(j, ensure_ascii=False, indent=indent, sort_keys=sortKeys); indent < 0 means None.
std::string toJsonText(const Json &j, int indent, bool sortKeys);
std::string typeName(const Value &v);

bool equals(const Value &a, const Value &b);
// Python's a < b for numbers and strings; other pairs are an error at line.
bool less(const Value &a, const Value &b, int line);

std::u32string toU32(const std::string &s);
std::string fromU32(const std::u32string &s);

// obj.name: an object's key (or a namespace's), else undefined.
Value getAttr(const Value &obj, const std::string &name, int line);
// obj[index]: list and string by (negative) position, object by key.
Value getItem(const Value &obj, const Value &index, int line);
// Python's obj[start:stop:step]; absent parts are nullopt.
Value getSlice(const Value &obj, std::optional<long long> start, std::optional<long long> stop,
               std::optional<long long> step, int line);
// The items a for loop or a filter iterates: list items, object keys, string characters.
std::vector<Value> iterate(const Value &v, int line);

Value applyFilter(const std::string &name, const Value &self, CallArgs &args, int line);
bool applyTest(const std::string &name, const Value &self, CallArgs &args, int line);
// self.name(args) for the string, dict and list methods templates use; nullopt if self has no
// such method.
std::optional<Value> callMethod(const Value &self, const std::string &name, CallArgs &args,
                                int line);
// raise_exception, strftime_now, namespace, range, dict; undefined for other names.
Value globalFunction(const std::string &name);

// ---- helpers shared by the builtins (jinja_builtins.cpp, jinja_methods.cpp) ----

// Named argument `name`, else positional argument `index`; nullopt when absent.
std::optional<Value> arg(CallArgs &a, std::size_t index, const char *name);
std::string stringOf(const Value &v, int line, const char *what);
// The JSON of a value (a namespace as its object); undefined and functions are errors at line,
// a function's saying it cannot be `use`d.
Json toData(const Value &v, int line, const char *use = "used as a value here");
long long integerArg(const std::optional<Value> &v, long long fallback, int line,
                     const char *what);
// Python's str.strip / lstrip / rstrip: whitespace, or any of chars.
std::string stripped(const std::string &s, const std::optional<Value> &chars, bool left,
                     bool right, int line);
// Python's str.replace; count < 0 replaces all.
std::string replaced(std::string s, const std::string &from, const std::string &to,
                     long long count);
// ASCII upper or lower case, as the templates' role and tag names need.
std::string caseMapped(const std::string &s, bool upper);

} // namespace qb::jinja
