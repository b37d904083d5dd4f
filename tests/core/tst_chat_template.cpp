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
// rendered the same way. The Llama 2, Mistral (v0.1 and a tool-calling v0.3-style) and
// DeepSeek-R1-Distill templates, whose folders shared/data lacks, are transcriptions of their
// published templates (they may differ in detail from today's files), rendered the same way.
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
        // Whitespace control, trim_blocks and lstrip_blocks.
        {"a\n"
         "  {% if true %}\n"
         "  b\n"
         "  {% endif %}\n"
         "c",
         "a\n"
         "  b\n"
         "c"},
        {"a  {% if true %}b{% endif %}  \n"
         "  {{ 'x' }}  \n"
         "{# c #}\n"
         "  {#- d #}  e\n",
         "a  b  \n"
         "  x  \n"
         "  e"},
        {"{% for i in [1,2] %}\n"
         "  - {{ i }}\n"
         "{% endfor %}\n",
         "  - 1\n"
         "  - 2\n"},
        {"x {%+ if true %}y{% endif %}\n"
         "  {%+ if true %}z{% endif +%}\n"
         "w",
         "x y  z\n"
         "w"},
        {"  {%- if true -%}  \n"
         "\n"
         "  q  \n"
         "  {%- endif %}\n"
         "  r",
         "q  r"},
        {"line1\r\n"
         "line2\r\n"
         "{% if true %}\r\n"
         "in\r\n"
         "{% endif %}\r\n",
         "line1\n"
         "line2\n"
         "in\n"},
        {"{{- ' a ' -}}  {{ 'b' }}\n"
         "\n"
         "{{- 'c' }}",
         " a bc"},
        {"\t{% set x = 1 %}\n"
         "\t{{ x }}\n",
         "\t1"},
        {"{% macro m(a) -%}\n"
         "  [{{ a }}]\n"
         "{%- endmacro %}\n"
         "{{ m(1) }}{{ m('z') }}",
         "[1][z]"},
        {"{{ '{{' }} {{ {'a': {'b': 1}} }} {{ \"it's\" }} {{ 'a\\tb' }}",
         "{{ {'a': {'b': 1}} it's a\tb"},
};

struct FamilyTemplate
{
    const char *name;
    const char *source;
};

struct FamilyCase
{
    const char *name;
    bool addGenerationPrompt;
    bool tools;
    const char *messages;
    const char *expected; // "ERROR <message>" where jinja2 raised
};

const FamilyTemplate kFamilyTemplates[] = {
    {"llama2",
     "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"},
    {"mistral_v1",
     "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"},
    {"mistral_tools",
     "{%- if messages[0][\"role\"] == \"system\" %}\n"
     "    {%- set system_message = messages[0][\"content\"] %}\n"
     "    {%- set loop_messages = messages[1:] %}\n"
     "{%- else %}\n"
     "    {%- set loop_messages = messages %}\n"
     "{%- endif %}\n"
     "{%- if not tools is defined %}\n"
     "    {%- set tools = none %}\n"
     "{%- endif %}\n"
     "{%- set user_messages = loop_messages | selectattr(\"role\", \"equalto\", \"user\") | list %}\n"
     "{%- set ns = namespace() %}\n"
     "{%- set ns.index = 0 %}\n"
     "{%- for message in loop_messages %}\n"
     "    {%- if not (message.role == \"tool\" or message.role == \"tool_results\" or (message.tool_calls is defined and message.tool_calls is not none)) %}\n"
     "        {%- if (message[\"role\"] == \"user\") != (ns.index % 2 == 0) %}\n"
     "            {{- raise_exception(\"After the optional system message, conversation roles must alternate user/assistant/user/assistant/...\") }}\n"
     "        {%- endif %}\n"
     "        {%- set ns.index = ns.index + 1 %}\n"
     "    {%- endif %}\n"
     "{%- endfor %}\n"
     "{{- bos_token }}\n"
     "{%- for message in loop_messages %}\n"
     "    {%- if message[\"role\"] == \"user\" %}\n"
     "        {%- if tools is not none and (message == user_messages[-1]) %}\n"
     "            {{- \"[AVAILABLE_TOOLS] [\" }}\n"
     "            {%- for tool in tools %}\n"
     "                {%- set tool = tool.function %}\n"
     "                {{- '{\"type\": \"function\", \"function\": {' }}\n"
     "                {%- for key, val in tool.items() if key != \"return\" %}\n"
     "                    {%- if val is string %}\n"
     "                        {{- '\"' + key + '\": \"' + val + '\"' }}\n"
     "                    {%- else %}\n"
     "                        {{- '\"' + key + '\": ' + val|tojson }}\n"
     "                    {%- endif %}\n"
     "                    {%- if not loop.last %}\n"
     "                        {{- \", \" }}\n"
     "                    {%- endif %}\n"
     "                {%- endfor %}\n"
     "                {{- \"}}\" }}\n"
     "                {%- if not loop.last %}\n"
     "                    {{- \", \" }}\n"
     "                {%- else %}\n"
     "                    {{- \"]\" }}\n"
     "                {%- endif %}\n"
     "            {%- endfor %}\n"
     "            {{- \"[/AVAILABLE_TOOLS]\" }}\n"
     "        {%- endif %}\n"
     "        {%- if loop.last and system_message is defined %}\n"
     "            {{- \"[INST] \" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}\n"
     "        {%- else %}\n"
     "            {{- \"[INST] \" + message[\"content\"] + \"[/INST]\" }}\n"
     "        {%- endif %}\n"
     "    {%- elif message.tool_calls is defined and message.tool_calls is not none %}\n"
     "        {{- \"[TOOL_CALLS] [\" }}\n"
     "        {%- for tool_call in message.tool_calls %}\n"
     "            {%- set out = tool_call.function|tojson %}\n"
     "            {{- out[:-1] }}\n"
     "            {{- ', \"id\": \"' + tool_call.id + '\"}' }}\n"
     "            {%- if not loop.last %}\n"
     "                {{- \", \" }}\n"
     "            {%- else %}\n"
     "                {{- \"]\" + eos_token }}\n"
     "            {%- endif %}\n"
     "        {%- endfor %}\n"
     "    {%- elif message[\"role\"] == \"assistant\" %}\n"
     "        {{- \" \" + message[\"content\"]|trim + eos_token}}\n"
     "    {%- elif message[\"role\"] == \"tool_results\" or message[\"role\"] == \"tool\" %}\n"
     "        {%- if message.content is defined and message.content.content is defined %}\n"
     "            {%- set content = message.content.content %}\n"
     "        {%- else %}\n"
     "            {%- set content = message.content %}\n"
     "        {%- endif %}\n"
     "        {{- '[TOOL_RESULTS] {\"content\": ' + content|string + \", \" }}\n"
     "        {{- '\"call_id\": \"' + message.tool_call_id + '\"}[/TOOL_RESULTS]' }}\n"
     "    {%- else %}\n"
     "        {{- raise_exception(\"Only user and assistant roles are supported, with the exception of an initial optional system message!\") }}\n"
     "    {%- endif %}\n"
     "{%- endfor %}\n"},
    {"deepseek_r1",
     "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') %}{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is none %}{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{%- set ns.is_first = true -%}{%- else %}{{'\\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is not none %}{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}{%- else %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_output_first = false %}{%- else %}{{'\\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\n'}}{% endif %}"},
};

const FamilyCase kFamilyCases[] = {
    {"llama2", false, false,
     "[{\"role\": \"system\", \"content\": \"You are a careful math tutor.\"}, {\"role\": \"user\", \"content\": \"  What is 12 * 7?\\nShow steps.  \"}, {\"role\": \"assistant\", \"content\": \"12 * 7 = 84.\\n#### 84\"}]",
     "<s>[INST] <<SYS>>\n"
     "You are a careful math tutor.\n"
     "<</SYS>>\n"
     "\n"
     "  What is 12 * 7?\n"
     "Show steps. [/INST] 12 * 7 = 84.\n"
     "#### 84 </s>"},
    {"llama2", true, false,
     "[{\"role\": \"system\", \"content\": \"You are a careful math tutor.\"}, {\"role\": \"user\", \"content\": \"  What is 12 * 7?\\nShow steps.  \"}, {\"role\": \"assistant\", \"content\": \"12 * 7 = 84.\\n#### 84\"}]",
     "<s>[INST] <<SYS>>\n"
     "You are a careful math tutor.\n"
     "<</SYS>>\n"
     "\n"
     "  What is 12 * 7?\n"
     "Show steps. [/INST] 12 * 7 = 84.\n"
     "#### 84 </s>"},
    {"mistral_v1", false, false,
     "[{\"role\": \"system\", \"content\": \"You are a careful math tutor.\"}, {\"role\": \"user\", \"content\": \"  What is 12 * 7?\\nShow steps.  \"}, {\"role\": \"assistant\", \"content\": \"12 * 7 = 84.\\n#### 84\"}]",
     "ERROR Conversation roles must alternate user/assistant/user/assistant/..."},
    {"mistral_v1", true, false,
     "[{\"role\": \"system\", \"content\": \"You are a careful math tutor.\"}, {\"role\": \"user\", \"content\": \"  What is 12 * 7?\\nShow steps.  \"}, {\"role\": \"assistant\", \"content\": \"12 * 7 = 84.\\n#### 84\"}]",
     "ERROR Conversation roles must alternate user/assistant/user/assistant/..."},
    {"mistral_tools", false, false,
     "[{\"role\": \"system\", \"content\": \"You are a careful math tutor.\"}, {\"role\": \"user\", \"content\": \"  What is 12 * 7?\\nShow steps.  \"}, {\"role\": \"assistant\", \"content\": \"12 * 7 = 84.\\n#### 84\"}]",
     "<s>[INST]   What is 12 * 7?\n"
     "Show steps.  [/INST] 12 * 7 = 84.\n"
     "#### 84</s>"},
    {"mistral_tools", true, false,
     "[{\"role\": \"system\", \"content\": \"You are a careful math tutor.\"}, {\"role\": \"user\", \"content\": \"  What is 12 * 7?\\nShow steps.  \"}, {\"role\": \"assistant\", \"content\": \"12 * 7 = 84.\\n#### 84\"}]",
     "<s>[INST]   What is 12 * 7?\n"
     "Show steps.  [/INST] 12 * 7 = 84.\n"
     "#### 84</s>"},
    {"deepseek_r1", false, false,
     "[{\"role\": \"system\", \"content\": \"You are a careful math tutor.\"}, {\"role\": \"user\", \"content\": \"  What is 12 * 7?\\nShow steps.  \"}, {\"role\": \"assistant\", \"content\": \"12 * 7 = 84.\\n#### 84\"}]",
     "<s>You are a careful math tutor.<｜User｜>  What is 12 * 7?\n"
     "Show steps.  <｜Assistant｜>12 * 7 = 84.\n"
     "#### 84<｜end▁of▁sentence｜>"},
    {"deepseek_r1", true, false,
     "[{\"role\": \"system\", \"content\": \"You are a careful math tutor.\"}, {\"role\": \"user\", \"content\": \"  What is 12 * 7?\\nShow steps.  \"}, {\"role\": \"assistant\", \"content\": \"12 * 7 = 84.\\n#### 84\"}]",
     "<s>You are a careful math tutor.<｜User｜>  What is 12 * 7?\n"
     "Show steps.  <｜Assistant｜>12 * 7 = 84.\n"
     "#### 84<｜end▁of▁sentence｜><｜Assistant｜><think>\n"},
    {"llama2", false, false,
     "[{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"user\", \"content\": \"b\"}]",
     "ERROR Conversation roles must alternate user/assistant/user/assistant/..."},
    {"mistral_v1", true, false,
     "[{\"role\": \"user\", \"content\": \"  What is 12 * 7?\\nShow steps.  \"}, {\"role\": \"assistant\", \"content\": \"12 * 7 = 84.\\n#### 84\"}]",
     "<s>[INST]   What is 12 * 7?\n"
     "Show steps.   [/INST]12 * 7 = 84.\n"
     "#### 84</s>"},
    {"deepseek_r1", true, false,
     "[{\"role\": \"user\", \"content\": \"2+2?\"}, {\"role\": \"assistant\", \"content\": \"<think>\\nadd\\n</think>\\n\\n4\"}, {\"role\": \"user\", \"content\": \"3+3?\"}]",
     "<s><｜User｜>2+2?<｜Assistant｜>\n"
     "\n"
     "4<｜end▁of▁sentence｜><｜User｜>3+3?<｜Assistant｜><think>\n"},
    {"mistral_tools", false, true,
     "[{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Weather in Paris?\"}, {\"role\": \"assistant\", \"tool_calls\": [{\"id\": \"abc123def\", \"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}}]}, {\"role\": \"tool\", \"tool_call_id\": \"abc123def\", \"content\": \"21 C\"}, {\"role\": \"assistant\", \"content\": \"  21 C in Paris. \"}, {\"role\": \"user\", \"content\": \"Thanks\"}]",
     "<s>[INST] Weather in Paris?[/INST][TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"abc123def\"}]</s>[TOOL_RESULTS] {\"content\": 21 C, \"call_id\": \"abc123def\"}[/TOOL_RESULTS] 21 C in Paris.</s>[AVAILABLE_TOOLS] [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Current weather \"now\"\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"°C\", \"°F\"]}, \"days\": {\"type\": \"integer\", \"default\": 1.5e-07}}, \"required\": [\"city\"]}}}][/AVAILABLE_TOOLS][INST] Be brief.\n"
     "\n"
     "Thanks[/INST]"},
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

    void transcribedFamilyTemplatesRenderAsJinja2()
    {
        const Json tools = Json::parse(kTools);
        const Json tokens = {{"bos_token", "<s>"}, {"eos_token", "</s>"}};
        for (const FamilyCase &c : kFamilyCases) {
            const char *source = nullptr;
            for (const FamilyTemplate &t : kFamilyTemplates) {
                if (std::string(t.name) == c.name)
                    source = t.source;
            }
            QVERIFY(source);
            const qb::chat::ChatTemplate chat(source, "t", tokens);
            const Json messages = Json::parse(c.messages);
            const std::string expected = c.expected;
            const auto render = [&] {
                return chat.render(messages, c.addGenerationPrompt, c.tools ? tools : Json());
            };
            if (expected.rfind("ERROR ", 0) == 0) {
                QCOMPARE(errorOf([&] { render(); }),
                         "t line 1: the template raised an exception: "
                             + QString::fromStdString(expected.substr(6)));
            } else {
                QVERIFY2(render() == expected, c.name);
            }
        }
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
