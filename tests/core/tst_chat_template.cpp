// Chat templates: the Jinja subset interpreter (chat/jinja.h) and the real templates of
// shared/data/tokenizers (skipped when absent).
//
// How the expected strings were produced: with Python's jinja2 3.1.6 (installed here, used
// offline), configured as transformers' _compile_jinja_template does it:
// ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]),
// tojson = json.dumps(x, ensure_ascii=False, indent=indent, separators=None, sort_keys=False),
// globals raise_exception and strftime_now, and render(messages=..., tools=... or None,
// documents=None, add_generation_prompt=..., bos_token=..., eos_token=..., ...) with the special
// tokens of each tokenizer_config.json. The llama3 and smollm2 strings were also checked by
// reading the templates by hand. The small templates below exercise one construct each and were
// rendered the same way.
#include "chat/chat_template.h"
#include "chat/jinja.h"
#include "support/test_support.h"
#include "util/error.h"

#include <QtTest>

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

const char *kConversation = R"([
 {"role": "system", "content": "You are a careful math tutor."},
 {"role": "user", "content": "  What is 12 * 7?\nShow steps.  "},
 {"role": "assistant", "content": "12 * 7 = 84.\n#### 84"}])";

const char *kToolConversation = R"([
 {"role": "system", "content": "Use tools when needed."},
 {"role": "user", "content": "Weather in Paris?"},
 {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function":
   {"name": "get_weather", "arguments": {"city": "Paris", "unit": "°C"}}}]},
 {"role": "tool", "content": "{\"temp\": 21.5}"},
 {"role": "tool", "content": "sunny"},
 {"role": "assistant", "content": "<think>\nIt is warm.\n</think>\n\nIt is 21.5 °C and sunny."},
 {"role": "user", "content": "Thanks!"}])";

const char *kTools = R"([{"type": "function", "function": {"name": "get_weather",
 "description": "Current weather \"now\"", "parameters": {"type": "object", "properties":
 {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["°C", "°F"]},
 "days": {"type": "integer", "default": 1.5e-7}}, "required": ["city"]}}}])";

const char *kVariables = R"({"items": [1, 2, 3, 4], "s": "  pad me \n",
 "dicts": [{"role": "system", "content": "S"}, {"role": "user", "content": "U1"},
           {"role": "user", "content": "U2"}],
 "d": {"a": 1, "b": [true, null, 2.5], "nested": {"inner": "é"}}})";

struct RealCase
{
    const char *model;
    bool addGenerationPrompt;
    bool tools;
    const char *expected;
};

const RealCase kRealCases[] = {
        {"llama3", false, false,
         "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n"
         "\n"
         "You are a careful math tutor.<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
         "\n"
         "What is 12 * 7?\n"
         "Show steps.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
         "\n"
         "12 * 7 = 84.\n"
         "#### 84<|eot_id|>"},
        {"llama3", true, false,
         "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n"
         "\n"
         "You are a careful math tutor.<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
         "\n"
         "What is 12 * 7?\n"
         "Show steps.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
         "\n"
         "12 * 7 = 84.\n"
         "#### 84<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
         "\n"},
        {"llama3", true, true,
         "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n"
         "\n"
         "Use tools when needed.<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
         "\n"
         "Weather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
         "\n"
         "<|eot_id|><|start_header_id|>tool<|end_header_id|>\n"
         "\n"
         "{\"temp\": 21.5}<|eot_id|><|start_header_id|>tool<|end_header_id|>\n"
         "\n"
         "sunny<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
         "\n"
         "<think>\n"
         "It is warm.\n"
         "</think>\n"
         "\n"
         "It is 21.5 °C and sunny.<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
         "\n"
         "Thanks!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
         "\n"},
        {"qwen2", false, false,
         "<|im_start|>system\n"
         "You are a careful math tutor.<|im_end|>\n"
         "<|im_start|>user\n"
         "  What is 12 * 7?\n"
         "Show steps.  <|im_end|>\n"
         "<|im_start|>assistant\n"
         "12 * 7 = 84.\n"
         "#### 84<|im_end|>\n"},
        {"qwen2", true, false,
         "<|im_start|>system\n"
         "You are a careful math tutor.<|im_end|>\n"
         "<|im_start|>user\n"
         "  What is 12 * 7?\n"
         "Show steps.  <|im_end|>\n"
         "<|im_start|>assistant\n"
         "12 * 7 = 84.\n"
         "#### 84<|im_end|>\n"
         "<|im_start|>assistant\n"},
        {"qwen2", true, true,
         "<|im_start|>system\n"
         "Use tools when needed.\n"
         "\n"
         "# Tools\n"
         "\n"
         "You may call one or more functions to assist with the user query.\n"
         "\n"
         "You are provided with function signatures within <tools></tools> XML tags:\n"
         "<tools>\n"
         "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Current weather \\\"now\\\"\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"°C\", \"°F\"]}, \"days\": {\"type\": \"integer\", \"default\": 1.5e-07}}, \"required\": [\"city\"]}}}\n"
         "</tools>\n"
         "\n"
         "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n"
         "<tool_call>\n"
         "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
         "</tool_call><|im_end|>\n"
         "<|im_start|>user\n"
         "Weather in Paris?<|im_end|>\n"
         "<|im_start|>assistant\n"
         "<tool_call>\n"
         "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"°C\"}}\n"
         "</tool_call><|im_end|>\n"
         "<|im_start|>user\n"
         "<tool_response>\n"
         "{\"temp\": 21.5}\n"
         "</tool_response>\n"
         "<tool_response>\n"
         "sunny\n"
         "</tool_response><|im_end|>\n"
         "<|im_start|>assistant\n"
         "<think>\n"
         "It is warm.\n"
         "</think>\n"
         "\n"
         "It is 21.5 °C and sunny.<|im_end|>\n"
         "<|im_start|>user\n"
         "Thanks!<|im_end|>\n"
         "<|im_start|>assistant\n"},
        {"qwen3", false, false,
         "<|im_start|>system\n"
         "You are a careful math tutor.<|im_end|>\n"
         "<|im_start|>user\n"
         "  What is 12 * 7?\n"
         "Show steps.  <|im_end|>\n"
         "<|im_start|>assistant\n"
         "<think>\n"
         "\n"
         "</think>\n"
         "\n"
         "12 * 7 = 84.\n"
         "#### 84<|im_end|>\n"},
        {"qwen3", true, false,
         "<|im_start|>system\n"
         "You are a careful math tutor.<|im_end|>\n"
         "<|im_start|>user\n"
         "  What is 12 * 7?\n"
         "Show steps.  <|im_end|>\n"
         "<|im_start|>assistant\n"
         "<think>\n"
         "\n"
         "</think>\n"
         "\n"
         "12 * 7 = 84.\n"
         "#### 84<|im_end|>\n"
         "<|im_start|>assistant\n"},
        {"qwen3", true, true,
         "<|im_start|>system\n"
         "Use tools when needed.\n"
         "\n"
         "# Tools\n"
         "\n"
         "You may call one or more functions to assist with the user query.\n"
         "\n"
         "You are provided with function signatures within <tools></tools> XML tags:\n"
         "<tools>\n"
         "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Current weather \\\"now\\\"\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"°C\", \"°F\"]}, \"days\": {\"type\": \"integer\", \"default\": 1.5e-07}}, \"required\": [\"city\"]}}}\n"
         "</tools>\n"
         "\n"
         "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n"
         "<tool_call>\n"
         "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
         "</tool_call><|im_end|>\n"
         "<|im_start|>user\n"
         "Weather in Paris?<|im_end|>\n"
         "<|im_start|>assistant\n"
         "<tool_call>\n"
         "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"°C\"}}\n"
         "</tool_call><|im_end|>\n"
         "<|im_start|>user\n"
         "<tool_response>\n"
         "{\"temp\": 21.5}\n"
         "</tool_response>\n"
         "<tool_response>\n"
         "sunny\n"
         "</tool_response><|im_end|>\n"
         "<|im_start|>assistant\n"
         "It is 21.5 °C and sunny.<|im_end|>\n"
         "<|im_start|>user\n"
         "Thanks!<|im_end|>\n"
         "<|im_start|>assistant\n"},
        {"smollm2", false, false,
         "<|im_start|>system\n"
         "You are a careful math tutor.<|im_end|>\n"
         "<|im_start|>user\n"
         "  What is 12 * 7?\n"
         "Show steps.  <|im_end|>\n"
         "<|im_start|>assistant\n"
         "12 * 7 = 84.\n"
         "#### 84<|im_end|>\n"},
        {"smollm2", true, false,
         "<|im_start|>system\n"
         "You are a careful math tutor.<|im_end|>\n"
         "<|im_start|>user\n"
         "  What is 12 * 7?\n"
         "Show steps.  <|im_end|>\n"
         "<|im_start|>assistant\n"
         "12 * 7 = 84.\n"
         "#### 84<|im_end|>\n"
         "<|im_start|>assistant\n"},
        {"smollm2", true, true,
         "<|im_start|>system\n"
         "Use tools when needed.<|im_end|>\n"
         "<|im_start|>user\n"
         "Weather in Paris?<|im_end|>\n"
         "<|im_start|>assistant\n"
         "<|im_end|>\n"
         "<|im_start|>tool\n"
         "{\"temp\": 21.5}<|im_end|>\n"
         "<|im_start|>tool\n"
         "sunny<|im_end|>\n"
         "<|im_start|>assistant\n"
         "<think>\n"
         "It is warm.\n"
         "</think>\n"
         "\n"
         "It is 21.5 °C and sunny.<|im_end|>\n"
         "<|im_start|>user\n"
         "Thanks!<|im_end|>\n"
         "<|im_start|>assistant\n"},
};

struct FeatureCase
{
    const char *source;
    const char *expected;
};

const FeatureCase kFeatureCases[] = {
        {"{% for x in items %}{{ loop.index0 }}{{ loop.index }}{{ loop.revindex }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}",
         "014TrueFalse4|123FalseFalse4|232FalseFalse4|341FalseTrue4|"},
        {"{% for x in items if x > 1 %}{{ x }}{% if loop.last %}!{% endif %}{% else %}none{% endfor %}",
         "234!"},
        {"{% for x in items %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}",
         "13"},
        {"{% set ns = namespace(a=1, b='x') %}{% for x in items %}{% set ns.a = ns.a + x %}{% endfor %}{{ ns.a }}{{ ns.b }}",
         "11x"},
        {"{% set y = 5 %}{% for x in items %}{% set y = x %}{% endfor %}{{ y }}",
         "5"},
        {"{{ '  pad  ' | trim }}|{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'xAy'.upper() }}{{ 'XaY'.lower() }}",
         "pad|pad me|pad me \n"
         "|  pad me|['a', 'b', '', 'c']|['a', 'b']|XAYxay"},
        {"{{ 'hello'.startswith('he') }}{{ 'hello'.endswith(('x','lo')) }}{{ 'a-b-c'.replace('-', '+') }}{{ 'abc'[::-1] }}{{ 'abcdef'[1:4] }}{{ items[-1] }}{{ items[1:] }}",
         "TrueTruea+b+ccbabcd4[2, 3, 4]"},
        {"{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ items | tojson }}|{{ 3.0 | tojson }}{{ none | tojson }}{{ 'é\\n\"' | tojson }}",
         "{\"a\": 1, \"b\": [true, null, 2.5], \"nested\": {\"inner\": \"é\"}}|{\n"
         "  \"a\": 1,\n"
         "  \"b\": [\n"
         "    true,\n"
         "    null,\n"
         "    2.5\n"
         "  ],\n"
         "  \"nested\": {\n"
         "    \"inner\": \"é\"\n"
         "  }\n"
         "}|[1, 2, 3, 4]|3.0null\"é\\n\\\"\""},
        {"{{ missing | default('dflt') }}{{ '' | default('e', true) }}{{ missing is defined }}{{ none is none }}{{ 'x' is string }}{{ d is mapping }}{{ items is iterable }}{{ 3 is number }}{{ x is not defined }}",
         "dflteFalseTrueTrueTrueTrueTrueTrue"},
        {"{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in d | items %}{{ k }}{% endfor %}{% for k in d %}{{ k }}{% endfor %}",
         "a=1;b=[True, None, 2.5];nested={'inner': 'é'};abnestedabnested"},
        {"{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bo') }} {{ greet('Al', punct='?') }}",
         "Hi Bo! Hi Al?"},
        {"{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1 + 2 * 3 }} {{ 'a' ~ 1 ~ none }} {{ [1, 'a', none, true] }} {{ {'k': 1.5} }}",
         "3 -4 1 2 3.5 1024 7 a1None [1, 'a', None, True] {'k': 1.5}"},
        {"{{ 1 if false else 2 }}{{ 'yes' if items }}{{ not items }}{{ 1 in items }}{{ 9 not in items }}{{ 'ell' in 'hello' }}{{ 'k' in d }}{{ 1 < 2 <= 2 }}",
         "2yesFalseTrueTrueTrueFalseTrue"},
        {"  {% if true %}\n"
         "    indented\n"
         "  {% endif %}\n"
         "next {#- comment -#}  line\n"
         "{%- if true %} tight {% endif -%}\n"
         "  end\n",
         "    indented\n"
         "nextline tight end"},
        {"{{ items | length }}{{ 'héllo' | length }}{{ items | reverse | list }}{{ items | sort(reverse=true) }}{{ ['b','a'] | sort | join }}{{ 'x' | upper }}{{ 3.7 | int }}{{ '2' | int + 1 }}{{ items | string }}",
         "45[4, 3, 2, 1][4, 3, 2, 1]abX33[1, 2, 3, 4]"},
        {"{%- set content -%}\n"
         " block {{ 1 }}\n"
         "{%- endset %}[{{ content }}]{% set a, b = [1, 2] %}{{ a }}{{ b }}",
         "[block 1]12"},
        {"{{ d.nested.inner }}{{ d['nested']['inner'] }}{{ d.get('zz', 'fb') }}{{ d.get('a') }}{{ d.keys() | list }}{{ d.values() | list | length }}",
         "ééfb1['a', 'b', 'nested']3"},
        {"{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1.5e-7 }} {{ 100.0 / 3 }} {{ -0.0 }} {{ 12345678901234567.0 }}",
         "1.0 0.30000000000000004 1e+20 1.5e-07 33.333333333333336 -0.0 1.2345678901234568e+16"},
};

QString errorOf(const std::function<void()> &f)
{
    try {
        f();
    } catch (const qb::Error &e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

std::string render(const std::string &source, const Json &vars = Json::object())
{
    return qb::jinja::Template(source, "t").render(vars);
}

} // namespace

class TestChatTemplate : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void constructsRenderAsJinja2()
    {
        const Json vars = Json::parse(kVariables);
        for (const FeatureCase &c : kFeatureCases)
            QCOMPARE(QString::fromStdString(render(c.source, vars)),
                     QString::fromUtf8(c.expected));
    }

    void realTemplatesRenderAsTransformers()
    {
        const fs::path data = qbtest::sharedDataDir() / "tokenizers";
        if (qbtest::sharedDataDir().empty() || !fs::exists(data / "qwen2"))
            QSKIP("shared/data/tokenizers is absent");
        const Json conversation = Json::parse(kConversation);
        const Json toolConversation = Json::parse(kToolConversation);
        const Json tools = Json::parse(kTools);
        int checked = 0;
        for (const RealCase &c : kRealCases) {
            const fs::path dir = data / c.model;
            if (!fs::exists(dir))
                continue;
            const auto chat = qb::chat::ChatTemplate::fromPath(dir / "tokenizer_config.json");
            const std::string out = c.tools
                ? chat.render(toolConversation, c.addGenerationPrompt, tools)
                : chat.render(conversation, c.addGenerationPrompt);
            QVERIFY2(out == c.expected, qPrintable(QString("%1 (generation prompt %2, tools %3)")
                                                       .arg(c.model)
                                                       .arg(c.addGenerationPrompt)
                                                       .arg(c.tools)));
            ++checked;
        }
        QCOMPARE(checked, 12);
    }

    void specialTokensAndNamedTemplates()
    {
        const fs::path dir = qbtest::makeTempDir("chat");
        qbtest::writeFile(dir / "tokenizer_config.json", R"({
            "bos_token": {"__type": "AddedToken", "content": "<s>"}, "eos_token": "</s>",
            "chat_template": [
              {"name": "default", "template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}"},
              {"name": "tool_use", "template": "{{ tools | length }} tools"}]})");
        const Json messages = Json::parse(R"([{"role": "user", "content": "hi"}])");
        QCOMPARE(qb::chat::ChatTemplate::fromPath(dir).render(messages, false),
                 std::string("<s>hi</s>"));
        QCOMPARE(qb::chat::ChatTemplate::fromPath(dir, "tool_use")
                     .render(messages, false, Json::parse("[{}, {}]")),
                 std::string("2 tools"));
        QCOMPARE(errorOf([&] { qb::chat::ChatTemplate::fromPath(dir, "rag"); }),
                 QString::fromStdString(dir.filename().string())
                     + "/tokenizer_config.json: chat_template has no template named 'rag' (it "
                       "has: default, tool_use)");
        // chat_template.jinja beside the config wins, as in transformers.
        qbtest::writeFile(dir / "chat_template.jinja", "{{ messages[0]['content'] | upper }}\n");
        QCOMPARE(qb::chat::ChatTemplate::fromPath(dir).render(messages, false),
                 std::string("HI"));
    }

    void errorsNameLineAndConstruct()
    {
        QCOMPARE(errorOf([] { render("a\n{{ x }}\n{{ x | frobnicate }}", Json{{"x", 1}}); }),
                 QString("t line 3: unknown filter 'frobnicate'"));
        QCOMPARE(errorOf([] { render("{% if x is shiny %}{% endif %}", Json{{"x", 1}}); }),
                 QString("t line 1: unknown test 'shiny'"));
        QCOMPARE(errorOf([] { render("\n\n{% include 'other.jinja' %}"); }),
                 QString("t line 3: unsupported tag 'include'"));
        QCOMPARE(errorOf([] { render("{% for m in messages %}\n{{ m }}"); }),
                 QString("t line 2: the template ends inside the 'for' block of line 1"));
        QCOMPARE(errorOf([] { render("{{ raise_exception('Only user and assistant roles') }}"); }),
                 QString("t line 1: the template raised an exception: Only user and assistant "
                         "roles"));
        QCOMPARE(errorOf([] { render("{{ 'a' + 1 }}"); }),
                 QString("t line 1: unsupported operand types for +: str and int"));
        QCOMPARE(errorOf([] { render("{{ x.y.z }}", Json{{"x", Json::object()}}); }),
                 QString("t line 1: 'y' is undefined, so it has no attribute 'z'"));
        QCOMPARE(errorOf([] { render("{{ 'abc'.zfill(5) }}"); }),
                 QString("t line 1: 'zfill' is not a method of a str that templates may call"));
    }

    void strftimeNowFormatsTheCurrentDate()
    {
        // The year is all that is stable across a test run.
        const std::string year = render("{{ strftime_now('%Y') }}");
        QCOMPARE(year.size(), std::size_t(4));
        QVERIFY(year >= "2024");
    }
};

QTEST_APPLESS_MAIN(TestChatTemplate)
#include "tst_chat_template.moc"
