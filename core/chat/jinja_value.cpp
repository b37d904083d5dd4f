// Python value semantics for the Jinja subset (see jinja_runtime.h).
#include "chat/jinja_runtime.h"

#include "tokenizer/unicode.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace qb::jinja {

namespace {

// Python's float repr: the shortest digits that read back to x, fixed notation for exponents
// -4..15, else d.ddde+XX.
std::string pyFloat(double x)
{
    if (std::isnan(x))
        return "nan";
    if (std::isinf(x))
        return x < 0 ? "-inf" : "inf";
    char buf[64];
    for (int precision = 1; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*e", precision - 1, x);
        if (std::strtod(buf, nullptr) == x)
            break;
    }
    std::string s = buf;
    const bool negative = s[0] == '-';
    if (negative)
        s.erase(0, 1);
    const std::size_t e = s.find('e');
    const int exponent = std::atoi(s.c_str() + e + 1);
    std::string digits = s.substr(0, e);
    digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
    while (digits.size() > 1 && digits.back() == '0')
        digits.pop_back();
    std::string out;
    if (exponent >= -4 && exponent < 16) {
        if (exponent < 0) {
            out = "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
        } else if (static_cast<int>(digits.size()) <= exponent + 1) {
            out = digits + std::string(static_cast<std::size_t>(exponent + 1) - digits.size(), '0')
                + ".0";
        } else {
            out = digits.substr(0, static_cast<std::size_t>(exponent + 1)) + "."
                + digits.substr(static_cast<std::size_t>(exponent + 1));
        }
    } else {
        out = digits.substr(0, 1);
        if (digits.size() > 1)
            out += "." + digits.substr(1);
        std::snprintf(buf, sizeof buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
        out += buf;
    }
    return negative ? "-" + out : out;
}

std::string numberText(const Json &j)
{
    if (j.is_number_float())
        return pyFloat(j.get<double>());
    if (j.is_number_unsigned())
        return std::to_string(j.get<std::uint64_t>());
    return std::to_string(j.get<std::int64_t>());
}

std::string pyStringRepr(const std::string &s)
{
    const bool useDouble = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
    const char quote = useDouble ? '"' : '\'';
    std::string out(1, quote);
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == quote || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (u < 0x20 || u == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + quote;
}

void jsonString(const std::string &s, std::string &out)
{
    out += '"';
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (u < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", u);
                out += buf;
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

void jsonText(const Json &j, int indent, bool sortKeys, int level, std::string &out)
{
    const auto newline = [&](int depth) {
        if (indent >= 0)
            out += "\n" + std::string(static_cast<std::size_t>(indent * depth), ' ');
    };
    const char *itemSep = indent >= 0 ? "," : ", ";
    switch (j.type()) {
    case Json::value_t::null: out += "null"; return;
    case Json::value_t::boolean: out += j.get<bool>() ? "true" : "false"; return;
    case Json::value_t::string: jsonString(j.get_ref<const std::string &>(), out); return;
    case Json::value_t::number_float: {
        const double x = j.get<double>();
        out += std::isnan(x) ? "NaN" : std::isinf(x) ? (x < 0 ? "-Infinity" : "Infinity")
                                                     : pyFloat(x);
        return;
    }
    case Json::value_t::array:
        if (j.empty()) {
            out += "[]";
            return;
        }
        out += '[';
        for (std::size_t i = 0; i < j.size(); ++i) {
            if (i > 0)
                out += itemSep;
            newline(level + 1);
            jsonText(j[i], indent, sortKeys, level + 1, out);
        }
        newline(level);
        out += ']';
        return;
    case Json::value_t::object: {
        if (j.empty()) {
            out += "{}";
            return;
        }
        std::vector<std::pair<std::string, const Json *>> items;
        for (const auto &[k, v] : j.items())
            items.emplace_back(k, &v);
        if (sortKeys)
            std::sort(items.begin(), items.end(),
                      [](const auto &a, const auto &b) { return a.first < b.first; });
        out += '{';
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i > 0)
                out += itemSep;
            newline(level + 1);
            jsonString(items[i].first, out);
            out += ": ";
            jsonText(*items[i].second, indent, sortKeys, level + 1, out);
        }
        newline(level);
        out += '}';
        return;
    }
    default: out += numberText(j); return;
    }
}

bool isNumber(const Json &j)
{
    return j.is_number() || j.is_boolean();
}

double asDouble(const Json &j)
{
    return j.is_boolean() ? (j.get<bool>() ? 1.0 : 0.0) : j.get<double>();
}

long long indexArg(const Value &v, int line, const char *what)
{
    if (!v.isData() || !(v.data.is_number_integer() || v.data.is_boolean()))
        fail(line, std::string(what) + " must be an integer, not " + typeName(v));
    return v.data.is_boolean() ? v.data.get<bool>() : v.data.get<long long>();
}

} // namespace

std::u32string toU32(const std::string &s)
{
    std::u32string out;
    for (std::size_t pos = 0, len = 0; pos < s.size(); pos += len)
        out.push_back(tok::decodeUtf8(s, pos, len));
    return out;
}

std::string fromU32(const std::u32string &s)
{
    std::string out;
    for (const char32_t cp : s)
        tok::appendUtf8(out, cp);
    return out;
}

bool truthy(const Value &v)
{
    switch (v.kind) {
    case Value::Kind::Undefined: return false;
    case Value::Kind::Namespace:
    case Value::Kind::Callable: return true;
    case Value::Kind::Data: break;
    }
    const Json &j = v.data;
    switch (j.type()) {
    case Json::value_t::null: return false;
    case Json::value_t::boolean: return j.get<bool>();
    case Json::value_t::string: return !j.get_ref<const std::string &>().empty();
    case Json::value_t::array:
    case Json::value_t::object: return !j.empty();
    case Json::value_t::number_float: return j.get<double>() != 0.0;
    default: return j.get<long long>() != 0;
    }
}

std::string repr(const Json &j)
{
    switch (j.type()) {
    case Json::value_t::null: return "None";
    case Json::value_t::boolean: return j.get<bool>() ? "True" : "False";
    case Json::value_t::string: return pyStringRepr(j.get_ref<const std::string &>());
    case Json::value_t::array: {
        std::string out = "[";
        for (std::size_t i = 0; i < j.size(); ++i)
            out += (i ? ", " : "") + repr(j[i]);
        return out + "]";
    }
    case Json::value_t::object: {
        std::string out = "{";
        bool first = true;
        for (const auto &[k, v] : j.items()) {
            out += (first ? "" : ", ") + pyStringRepr(k) + ": " + repr(v);
            first = false;
        }
        return out + "}";
    }
    default: return numberText(j);
    }
}

std::string toStr(const Value &v)
{
    switch (v.kind) {
    case Value::Kind::Undefined: return "";
    case Value::Kind::Namespace: return "<Namespace " + repr(*v.ns) + ">";
    case Value::Kind::Callable: return "<function>";
    case Value::Kind::Data: break;
    }
    if (v.data.is_string())
        return v.data.get<std::string>();
    return repr(v.data);
}

std::string toJsonText(const Json &j, int indent, bool sortKeys)
{
    std::string out;
    jsonText(j, indent, sortKeys, 0, out);
    return out;
}

std::string typeName(const Value &v)
{
    switch (v.kind) {
    case Value::Kind::Undefined: return "undefined";
    case Value::Kind::Namespace: return "namespace";
    case Value::Kind::Callable: return "function";
    case Value::Kind::Data: break;
    }
    switch (v.data.type()) {
    case Json::value_t::null: return "None";
    case Json::value_t::boolean: return "bool";
    case Json::value_t::string: return "str";
    case Json::value_t::array: return "list";
    case Json::value_t::object: return "dict";
    case Json::value_t::number_float: return "float";
    default: return "int";
    }
}

bool equals(const Value &a, const Value &b)
{
    if (a.kind != b.kind)
        return false;
    switch (a.kind) {
    case Value::Kind::Undefined: return true;
    case Value::Kind::Namespace: return a.ns == b.ns;
    case Value::Kind::Callable: return a.call == b.call;
    case Value::Kind::Data: break;
    }
    if (isNumber(a.data) && isNumber(b.data) && !(a.data.is_boolean() && b.data.is_boolean())) {
        if (a.data.is_number_integer() && b.data.is_number_integer())
            return a.data.get<long long>() == b.data.get<long long>();
        return asDouble(a.data) == asDouble(b.data);
    }
    return a.data == b.data;
}

bool less(const Value &a, const Value &b, int line)
{
    if (a.isData() && b.isData()) {
        if (isNumber(a.data) && isNumber(b.data)) {
            if (a.data.is_number_integer() && b.data.is_number_integer())
                return a.data.get<long long>() < b.data.get<long long>();
            return asDouble(a.data) < asDouble(b.data);
        }
        if (a.data.is_string() && b.data.is_string())
            return a.data.get_ref<const std::string &>() < b.data.get_ref<const std::string &>();
    }
    fail(line, "cannot compare " + typeName(a) + " and " + typeName(b) + " with < or >");
}

Value getAttr(const Value &obj, const std::string &name, int line)
{
    if (obj.isUndefined())
        fail(line, "'" + (obj.name.empty() ? std::string("value") : obj.name)
                       + "' is undefined, so it has no attribute '" + name + "'");
    if (obj.kind == Value::Kind::Namespace) {
        const auto it = obj.ns->find(name);
        return it == obj.ns->end() ? Value::undefined(name) : Value(*it);
    }
    if (obj.isData() && obj.data.is_object()) {
        const auto it = obj.data.find(name);
        if (it != obj.data.end())
            return Value(*it);
    }
    return Value::undefined(name);
}

Value getItem(const Value &obj, const Value &index, int line)
{
    if (obj.isUndefined())
        fail(line, "'" + (obj.name.empty() ? std::string("value") : obj.name)
                       + "' is undefined, so it cannot be indexed");
    if (obj.kind == Value::Kind::Namespace && index.isData() && index.data.is_string())
        return getAttr(obj, index.data.get<std::string>(), line);
    if (!obj.isData())
        fail(line, "a " + typeName(obj) + " cannot be indexed");
    const Json &j = obj.data;
    if (j.is_object()) {
        if (index.isData() && index.data.is_string()) {
            const auto it = j.find(index.data.get<std::string>());
            if (it != j.end())
                return Value(*it);
            return Value::undefined(index.data.get<std::string>());
        }
        return Value::undefined();
    }
    if (j.is_array() || j.is_string()) {
        long long i = indexArg(index, line, "an index");
        if (j.is_array()) {
            const auto n = static_cast<long long>(j.size());
            if (i < 0)
                i += n;
            return (i < 0 || i >= n) ? Value::undefined() : Value(j[static_cast<std::size_t>(i)]);
        }
        const std::u32string s = toU32(j.get<std::string>());
        const auto n = static_cast<long long>(s.size());
        if (i < 0)
            i += n;
        if (i < 0 || i >= n)
            return Value::undefined();
        return Value(fromU32(s.substr(static_cast<std::size_t>(i), 1)));
    }
    fail(line, "a " + typeName(obj) + " cannot be indexed");
}

Value getSlice(const Value &obj, std::optional<long long> start, std::optional<long long> stop,
               std::optional<long long> step, int line)
{
    if (!obj.isData() || !(obj.data.is_array() || obj.data.is_string()))
        fail(line, "a " + typeName(obj) + " cannot be sliced");
    const long long by = step.value_or(1);
    if (by == 0)
        fail(line, "slice step cannot be zero");
    const bool isString = obj.data.is_string();
    const std::u32string s = isString ? toU32(obj.data.get<std::string>()) : std::u32string();
    const long long n = isString ? static_cast<long long>(s.size())
                                 : static_cast<long long>(obj.data.size());
    const auto clamp = [&](std::optional<long long> v, long long fallback) {
        if (!v)
            return fallback;
        long long x = *v < 0 ? *v + n : *v;
        if (by > 0)
            return std::clamp(x, 0LL, n);
        return std::clamp(x, -1LL, n - 1);
    };
    const long long from = clamp(start, by > 0 ? 0 : n - 1);
    const long long to = clamp(stop, by > 0 ? n : -1);
    std::vector<long long> picks;
    for (long long i = from; by > 0 ? i < to : i > to; i += by)
        picks.push_back(i);
    if (isString) {
        std::u32string out;
        for (const long long i : picks)
            out += s[static_cast<std::size_t>(i)];
        return Value(fromU32(out));
    }
    Json out = Json::array();
    for (const long long i : picks)
        out.push_back(obj.data[static_cast<std::size_t>(i)]);
    return Value(std::move(out));
}

std::vector<Value> iterate(const Value &v, int line)
{
    std::vector<Value> out;
    if (v.isUndefined())
        return out;
    if (!v.isData())
        fail(line, "a " + typeName(v) + " cannot be iterated");
    const Json &j = v.data;
    if (j.is_array()) {
        for (const auto &item : j)
            out.emplace_back(item);
    } else if (j.is_object()) {
        for (const auto &[k, unused] : j.items())
            out.emplace_back(k);
    } else if (j.is_string()) {
        for (const char32_t cp : toU32(j.get<std::string>()))
            out.emplace_back(fromU32(std::u32string(1, cp)));
    } else {
        fail(line, "a " + typeName(v) + " cannot be iterated");
    }
    return out;
}

} // namespace qb::jinja
