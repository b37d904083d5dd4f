// The filters and tests of the Jinja subset (jinja_runtime.h), as Jinja 3 and transformers
// define them (tojson is transformers' json.dumps with ensure_ascii=False).
#include "chat/jinja_runtime.h"

#include "util/error.h"

#include <algorithm>
#include <cmath>

namespace qb::jinja {

namespace {

Json listOf(const std::vector<Value> &items, int line)
{
    Json out = Json::array();
    for (const Value &v : items)
        out.push_back(toData(v, line));
    return out;
}


// Dotted attribute lookup as selectattr/map/sort use it ("function.name").
Value attributePath(const Value &v, const std::string &path, int line)
{
    Value cur = v;
    std::size_t from = 0;
    while (true) {
        const std::size_t dot = path.find('.', from);
        const std::string part = path.substr(from, dot == std::string::npos ? dot : dot - from);
        if (cur.isUndefined())
            return cur;
        cur = getAttr(cur, part, line);
        if (dot == std::string::npos)
            return cur;
        from = dot + 1;
    }
}

long long lengthOf(const Value &self, int line)
{
    if (self.isData() && self.data.is_string())
        return static_cast<long long>(toU32(self.data.get<std::string>()).size());
    if (self.isData() && (self.data.is_array() || self.data.is_object()))
        return static_cast<long long>(self.data.size());
    if (self.isUndefined())
        return 0;
    fail(line, "length of a " + typeName(self) + " is not defined");
}

// select/reject/selectattr/rejectattr: keep items whose test (or truthiness) is `keep`.
Value selectBy(const Value &self, CallArgs &args, int line, bool byAttr, bool keep)
{
    std::size_t next = 0;
    std::string attr;
    if (byAttr) {
        if (args.positional.empty())
            fail(line, "selectattr/rejectattr need an attribute name");
        attr = stringOf(args.positional[next++], line, "the attribute name");
    }
    std::string test;
    if (next < args.positional.size())
        test = stringOf(args.positional[next++], line, "the test name");
    CallArgs testArgs;
    testArgs.positional.assign(args.positional.begin() + static_cast<long>(next),
                               args.positional.end());
    Json out = Json::array();
    for (const Value &item : iterate(self, line)) {
        const Value subject = byAttr ? attributePath(item, attr, line) : item;
        CallArgs a = testArgs;
        const bool pass = test.empty() ? truthy(subject) : applyTest(test, subject, a, line);
        if (pass == keep)
            out.push_back(toData(item, line));
    }
    return Value(std::move(out));
}

} // namespace

Value applyFilter(const std::string &name, const Value &self, CallArgs &args, int line)
{
    if (name == "tojson") {
        const long long indent = integerArg(arg(args, 0, "indent"), -1, line, "indent");
        const auto sortKeys = arg(args, 99, "sort_keys");
        return Value(toJsonText(toData(self, line), static_cast<int>(indent),
                                sortKeys && truthy(*sortKeys)));
    }
    if (name == "trim") {
        return Value(stripped(toStr(self), arg(args, 0, "chars"), true, true, line));
    }
    if (name == "length" || name == "count")
        return Value(lengthOf(self, line));
    if (name == "string")
        return Value(toStr(self));
    if (name == "upper" || name == "lower")
        return Value(caseMapped(toStr(self), name == "upper"));
    if (name == "capitalize") {
        std::string s = caseMapped(toStr(self), false);
        if (!s.empty() && s[0] >= 'a' && s[0] <= 'z')
            s[0] = static_cast<char>(s[0] - 32);
        return Value(s);
    }
    if (name == "replace") {
        const auto from = arg(args, 0, "old");
        const auto to = arg(args, 1, "new");
        if (!from || !to)
            fail(line, "replace needs the old and new strings");
        return Value(replaced(toStr(self), stringOf(*from, line, "old"),
                              stringOf(*to, line, "new"),
                              integerArg(arg(args, 2, "count"), -1, line, "count")));
    }
    if (name == "default" || name == "d") {
        const auto fallback = arg(args, 0, "default_value");
        const auto boolean = arg(args, 1, "boolean");
        const bool useFallback
            = self.isUndefined() || (boolean && truthy(*boolean) && !truthy(self));
        return useFallback ? fallback.value_or(Value(std::string())) : self;
    }
    if (name == "first" || name == "last") {
        const std::vector<Value> items = iterate(self, line);
        if (items.empty())
            return Value::undefined();
        return name == "first" ? items.front() : items.back();
    }
    if (name == "list")
        return Value(listOf(iterate(self, line), line));
    if (name == "reverse") {
        if (self.isData() && self.data.is_string()) {
            std::u32string s = toU32(self.data.get<std::string>());
            std::reverse(s.begin(), s.end());
            return Value(fromU32(s));
        }
        std::vector<Value> items = iterate(self, line);
        std::reverse(items.begin(), items.end());
        return Value(listOf(items, line));
    }
    if (name == "join") {
        const auto sep = arg(args, 0, "d");
        const auto attr = arg(args, 1, "attribute");
        std::string out;
        bool first = true;
        for (const Value &item : iterate(self, line)) {
            if (!first && sep)
                out += toStr(*sep);
            first = false;
            out += toStr(attr ? attributePath(item, toStr(*attr), line) : item);
        }
        return Value(out);
    }
    if (name == "items") {
        if (self.isUndefined())
            return Value(Json::array());
        const Json j = toData(self, line);
        if (!j.is_object())
            fail(line, "items needs a mapping, not " + typeName(self));
        Json out = Json::array();
        for (const auto &[k, v] : j.items())
            out.push_back(Json::array({k, v}));
        return Value(std::move(out));
    }
    if (name == "selectattr" || name == "rejectattr")
        return selectBy(self, args, line, true, name == "selectattr");
    if (name == "select" || name == "reject")
        return selectBy(self, args, line, false, name == "select");
    if (name == "map") {
        const auto attr = arg(args, 99, "attribute");
        Json out = Json::array();
        if (attr) {
            const auto fallback = arg(args, 99, "default");
            for (const Value &item : iterate(self, line)) {
                Value v = attributePath(item, toStr(*attr), line);
                if (v.isUndefined() && fallback)
                    v = *fallback;
                out.push_back(v.isUndefined() ? Json() : toData(v, line));
            }
            return Value(std::move(out));
        }
        if (args.positional.empty())
            fail(line, "map needs a filter name or attribute=");
        const std::string filter = stringOf(args.positional[0], line, "the filter name");
        CallArgs rest;
        rest.positional.assign(args.positional.begin() + 1, args.positional.end());
        rest.named = args.named;
        for (const Value &item : iterate(self, line)) {
            CallArgs a = rest;
            out.push_back(toData(applyFilter(filter, item, a, line), line));
        }
        return Value(std::move(out));
    }
    if (name == "unique") {
        Json out = Json::array();
        for (const Value &item : iterate(self, line)) {
            const bool seen = std::any_of(out.begin(), out.end(), [&](const Json &x) {
                return equals(Value(x), item);
            });
            if (!seen)
                out.push_back(toData(item, line));
        }
        return Value(std::move(out));
    }
    if (name == "sort") {
        std::vector<Value> items = iterate(self, line);
        const auto reverse = arg(args, 0, "reverse");
        const auto attr = arg(args, 2, "attribute");
        const auto key = [&](const Value &v) {
            return attr ? attributePath(v, toStr(*attr), line) : v;
        };
        std::stable_sort(items.begin(), items.end(), [&](const Value &a, const Value &b) {
            return less(key(a), key(b), line);
        });
        if (reverse && truthy(*reverse))
            std::reverse(items.begin(), items.end());
        return Value(listOf(items, line));
    }
    if (name == "int" || name == "float") {
        const Json j = self.isData() ? self.data : Json();
        double x = 0;
        if (j.is_number() || j.is_boolean())
            x = j.is_boolean() ? j.get<bool>() : j.get<double>();
        else if (j.is_string()) {
            try {
                x = std::stod(j.get<std::string>());
            } catch (const std::exception &) {
                x = 0;
            }
        }
        if (name == "int")
            return Value(static_cast<long long>(std::trunc(x)));
        return Value(x);
    }
    if (name == "abs") {
        const Json j = toData(self, line);
        if (j.is_number_integer())
            return Value(std::llabs(j.get<long long>()));
        return Value(std::fabs(j.get<double>()));
    }
    if (name == "safe")
        return self;
    if (name == "indent") {
        const long long width = integerArg(arg(args, 0, "width"), 4, line, "width");
        const auto first = arg(args, 1, "first");
        const std::string pad(static_cast<std::size_t>(std::max(0LL, width)), ' ');
        const std::string s = toStr(self);
        std::string out;
        for (std::size_t i = 0; i < s.size(); ++i) {
            out += s[i];
            if (s[i] == '\n' && i + 1 < s.size() && s[i + 1] != '\n')
                out += pad;
        }
        return Value((first && truthy(*first) ? pad : std::string()) + out);
    }
    fail(line, "unknown filter '" + name + "'");
}

bool applyTest(const std::string &name, const Value &self, CallArgs &args, int line)
{
    const Json *j = self.isData() ? &self.data : nullptr;
    const auto other = [&]() -> Value {
        const auto v = arg(args, 0, "value");
        if (!v)
            fail(line, "test '" + name + "' needs a value to compare with");
        return *v;
    };
    if (name == "defined")
        return !self.isUndefined();
    if (name == "undefined")
        return self.isUndefined();
    if (name == "none")
        return j && j->is_null();
    if (name == "string")
        return j && j->is_string();
    if (name == "mapping")
        return (j && j->is_object()) || self.kind == Value::Kind::Namespace;
    if (name == "iterable")
        return j && (j->is_array() || j->is_object() || j->is_string());
    if (name == "sequence")
        return j && (j->is_array() || j->is_object() || j->is_string());
    if (name == "number")
        return j && j->is_number();
    if (name == "integer")
        return j && j->is_number_integer();
    if (name == "float")
        return j && j->is_number_float();
    if (name == "boolean")
        return j && j->is_boolean();
    if (name == "true")
        return j && j->is_boolean() && j->get<bool>();
    if (name == "false")
        return j && j->is_boolean() && !j->get<bool>();
    if (name == "callable")
        return self.kind == Value::Kind::Callable;
    if (name == "odd" || name == "even") {
        if (!j || !j->is_number_integer())
            fail(line, "test '" + name + "' needs an integer");
        return (j->get<long long>() % 2 != 0) == (name == "odd");
    }
    if (name == "divisibleby") {
        const Value d = other();
        if (!j || !j->is_number_integer() || !d.isData() || !d.data.is_number_integer()
            || d.data.get<long long>() == 0)
            fail(line, "divisibleby needs integers");
        return j->get<long long>() % d.data.get<long long>() == 0;
    }
    if (name == "eq" || name == "equalto" || name == "==" || name == "sameas")
        return equals(self, other());
    if (name == "ne" || name == "!=")
        return !equals(self, other());
    if (name == "lt" || name == "lessthan")
        return less(self, other(), line);
    if (name == "gt" || name == "greaterthan")
        return less(other(), self, line);
    if (name == "le")
        return !less(other(), self, line);
    if (name == "ge")
        return !less(self, other(), line);
    if (name == "in") {
        const Value container = other();
        for (const Value &item : iterate(container, line)) {
            if (equals(item, self))
                return true;
        }
        return false;
    }
    if (name == "lower" || name == "upper")
        return j && j->is_string() && caseMapped(j->get<std::string>(), name == "upper") == *j;
    fail(line, "unknown test '" + name + "'");
}

} // namespace qb::jinja
