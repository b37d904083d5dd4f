// The string and dict methods and the global functions of the Jinja subset (jinja_runtime.h),
// with the argument and string helpers the filters share, as Python and transformers define them.
#include "chat/jinja_runtime.h"

#include "util/error.h"

#include <algorithm>
#include <ctime>

namespace qb::jinja {

// Named or positional argument `index` called `name`; nullopt when absent.
std::optional<Value> arg(CallArgs &a, std::size_t index, const char *name)
{
    for (auto &[key, value] : a.named) {
        if (key == name)
            return value;
    }
    if (index < a.positional.size())
        return a.positional[index];
    return std::nullopt;
}

std::string stringOf(const Value &v, int line, const char *what)
{
    if (!v.isData() || !v.data.is_string())
        fail(line, std::string(what) + " must be a string, not " + typeName(v));
    return v.data.get<std::string>();
}

Json toData(const Value &v, int line, const char *use)
{
    if (v.isData())
        return v.data;
    if (v.kind == Value::Kind::Namespace)
        return *v.ns;
    if (v.isUndefined())
        fail(line, "'" + (v.name.empty() ? std::string("value") : v.name) + "' is undefined");
    fail(line, std::string("a function cannot be ") + use);
}


long long integerArg(const std::optional<Value> &v, long long fallback, int line, const char *what)
{
    if (!v || (v->isData() && v->data.is_null()))
        return fallback;
    if (!v->isData() || !v->data.is_number_integer())
        fail(line, std::string(what) + " must be an integer");
    return v->data.get<long long>();
}

namespace {

bool isAsciiSpace(char32_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

Json pySplit(const std::string &s, const std::optional<Value> &sep, long long maxSplit, int line)
{
    Json out = Json::array();
    if (!sep || (sep->isData() && sep->data.is_null())) {
        std::size_t i = 0;
        while (true) {
            while (i < s.size() && isAsciiSpace(static_cast<unsigned char>(s[i])))
                ++i;
            if (i >= s.size())
                break;
            if (maxSplit >= 0 && static_cast<long long>(out.size()) == maxSplit) {
                std::size_t e = s.size();
                while (e > i && isAsciiSpace(static_cast<unsigned char>(s[e - 1])))
                    --e;
                out.push_back(s.substr(i, e - i));
                break;
            }
            std::size_t j = i;
            while (j < s.size() && !isAsciiSpace(static_cast<unsigned char>(s[j])))
                ++j;
            out.push_back(s.substr(i, j - i));
            i = j;
        }
        return out;
    }
    const std::string separator = stringOf(*sep, line, "the separator");
    if (separator.empty())
        fail(line, "split: empty separator");
    std::size_t from = 0;
    while (maxSplit < 0 || static_cast<long long>(out.size()) < maxSplit) {
        const std::size_t at = s.find(separator, from);
        if (at == std::string::npos)
            break;
        out.push_back(s.substr(from, at - from));
        from = at + separator.size();
    }
    out.push_back(s.substr(from));
    return out;
}

bool affix(const std::string &s, const Value &what, bool prefix, int line)
{
    const auto one = [&](const Json &p) {
        if (!p.is_string())
            fail(line, "startswith/endswith takes a string or a tuple of strings");
        const std::string &x = p.get_ref<const std::string &>();
        return x.size() <= s.size()
            && (prefix ? s.compare(0, x.size(), x) == 0
                       : s.compare(s.size() - x.size(), x.size(), x) == 0);
    };
    const Json j = toData(what, line);
    if (j.is_array())
        return std::any_of(j.begin(), j.end(), one);
    return one(j);
}

} // namespace

// Python's str.strip / lstrip / rstrip: whitespace, or any of chars.
std::string stripped(const std::string &s, const std::optional<Value> &chars, bool left,
                     bool right, int line)
{
    const std::u32string text = toU32(s);
    std::u32string set;
    const bool whitespace = !chars || (chars->isData() && chars->data.is_null());
    if (!whitespace)
        set = toU32(stringOf(*chars, line, "the characters to strip"));
    const auto strip = [&](char32_t c) {
        return whitespace ? isAsciiSpace(c) : set.find(c) != std::u32string::npos;
    };
    std::size_t b = 0, e = text.size();
    while (left && b < e && strip(text[b]))
        ++b;
    while (right && e > b && strip(text[e - 1]))
        --e;
    return fromU32(text.substr(b, e - b));
}

std::string replaced(std::string s, const std::string &from, const std::string &to,
                     long long count)
{
    if (from.empty())
        return s;
    std::size_t pos = 0;
    for (long long n = 0; (count < 0 || n < count); ++n) {
        pos = s.find(from, pos);
        if (pos == std::string::npos)
            break;
        s.replace(pos, from.size(), to);
        pos += to.size();
    }
    return s;
}

std::string caseMapped(const std::string &s, bool upper)
{
    std::string out = s;
    for (char &c : out) {
        if (upper && c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 32);
        else if (!upper && c >= 'A' && c <= 'Z')
            c = static_cast<char>(c + 32);
    }
    return out;
}

std::optional<Value> callMethod(const Value &self, const std::string &name, CallArgs &args,
                                int line)
{
    if (!self.isData())
        return std::nullopt;
    const Json &j = self.data;
    if (j.is_string()) {
        const std::string &s = j.get_ref<const std::string &>();
        if (name == "strip" || name == "lstrip" || name == "rstrip")
            return Value(stripped(s, arg(args, 0, "chars"), name != "rstrip", name != "lstrip",
                                  line));
        if (name == "split")
            return Value(pySplit(s, arg(args, 0, "sep"),
                                 integerArg(arg(args, 1, "maxsplit"), -1, line, "maxsplit"),
                                 line));
        if (name == "startswith" || name == "endswith") {
            const auto what = arg(args, 0, "prefix");
            if (!what)
                fail(line, name + " needs an argument");
            return Value(affix(s, *what, name == "startswith", line));
        }
        if (name == "upper" || name == "lower")
            return Value(caseMapped(s, name == "upper"));
        if (name == "replace") {
            if (args.positional.size() < 2)
                fail(line, "replace needs the old and new strings");
            return Value(replaced(s, stringOf(args.positional[0], line, "old"),
                                  stringOf(args.positional[1], line, "new"),
                                  integerArg(arg(args, 2, "count"), -1, line, "count")));
        }
        if (name == "title" || name == "capitalize") {
            std::string out = caseMapped(s, false);
            bool start = true;
            for (char &c : out) {
                const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
                if (start && c >= 'a' && c <= 'z')
                    c = static_cast<char>(c - 32);
                start = name == "title" ? !letter : false;
            }
            return Value(out);
        }
        if (name == "find") {
            const auto what = arg(args, 0, "sub");
            if (!what)
                fail(line, "find needs an argument");
            const std::size_t at = s.find(stringOf(*what, line, "the substring"));
            if (at == std::string::npos)
                return Value(-1LL);
            return Value(static_cast<long long>(toU32(s.substr(0, at)).size()));
        }
        if (name == "count") {
            const auto what = arg(args, 0, "sub");
            if (!what)
                fail(line, "count needs an argument");
            const std::string sub = stringOf(*what, line, "the substring");
            long long n = 0;
            for (std::size_t at = 0; !sub.empty() && (at = s.find(sub, at)) != std::string::npos;
                 at += sub.size())
                ++n;
            return Value(n);
        }
        if (name == "join") {
            const auto items = arg(args, 0, "iterable");
            if (!items)
                fail(line, "join needs an argument");
            std::string out;
            bool first = true;
            for (const Value &item : iterate(*items, line)) {
                out += (first ? "" : s) + stringOf(item, line, "joined item");
                first = false;
            }
            return Value(out);
        }
        return std::nullopt;
    }
    if (j.is_object()) {
        if (name == "items" || name == "keys" || name == "values") {
            Json out = Json::array();
            for (const auto &[k, v] : j.items()) {
                if (name == "items")
                    out.push_back(Json::array({k, v}));
                else
                    out.push_back(name == "keys" ? Json(k) : v);
            }
            return Value(std::move(out));
        }
        if (name == "get") {
            const auto key = arg(args, 0, "key");
            if (!key)
                fail(line, "get needs a key");
            const Value found = getItem(self, *key, line);
            if (!found.isUndefined())
                return found;
            return arg(args, 1, "default").value_or(Value(Json()));
        }
    }
    return std::nullopt;
}

Value globalFunction(const std::string &name)
{
    Function f;
    if (name == "raise_exception") {
        f = [](CallArgs &a, int line) -> Value {
            const auto message = arg(a, 0, "message");
            fail(line, "the template raised an exception: " + (message ? toStr(*message) : ""));
        };
    } else if (name == "strftime_now") {
        f = [](CallArgs &a, int line) -> Value {
            const auto format = arg(a, 0, "format");
            if (!format)
                fail(line, "strftime_now needs a format");
            const std::time_t now = std::time(nullptr);
            std::tm local{};
            localtime_r(&now, &local);
            char buf[256];
            const std::size_t n = std::strftime(buf, sizeof buf,
                                                stringOf(*format, line, "the format").c_str(),
                                                &local);
            return Value(std::string(buf, n));
        };
    } else if (name == "namespace" || name == "dict") {
        const bool ns = name == "namespace";
        f = [ns](CallArgs &a, int line) -> Value {
            Json object = Json::object();
            for (const Value &p : a.positional) {
                const Json j = toData(p, line);
                if (!j.is_object())
                    fail(line, "namespace()/dict() take a mapping or name=value arguments");
                for (const auto &[k, v] : j.items())
                    object[k] = v;
            }
            for (const auto &[k, v] : a.named)
                object[k] = toData(v, line);
            if (!ns)
                return Value(std::move(object));
            Value out;
            out.kind = Value::Kind::Namespace;
            out.ns = std::make_shared<Json>(std::move(object));
            return out;
        };
    } else if (name == "range") {
        f = [](CallArgs &a, int line) -> Value {
            std::vector<long long> n;
            for (const Value &p : a.positional)
                n.push_back(integerArg(p, 0, line, "range's argument"));
            if (n.empty() || n.size() > 3)
                fail(line, "range takes one to three integers");
            const long long start = n.size() > 1 ? n[0] : 0;
            const long long stop = n.size() > 1 ? n[1] : n[0];
            const long long step = n.size() > 2 ? n[2] : 1;
            if (step == 0)
                fail(line, "range step cannot be zero");
            Json out = Json::array();
            for (long long i = start; step > 0 ? i < stop : i > stop; i += step)
                out.push_back(i);
            return Value(std::move(out));
        };
    } else {
        return Value::undefined(name);
    }
    Value v;
    v.kind = Value::Kind::Callable;
    v.call = std::make_shared<Function>(std::move(f));
    return v;
}

} // namespace qb::jinja
