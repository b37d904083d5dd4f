// quantbench-cli tokenize and chat render as a user drives them, on the real tokenizer files of
// shared/data/tokenizers (skipped when absent). Expected ids are those of the Hugging Face
// tokenizers library for the same strings (see tests/core/tst_tokenizer_hf.cpp: GPT-2
// "Hello world" -> [15496, 995] is also the published example); the rendered chat is checked
// against the template's text written out by hand.
#include "support/cli_runner.h"

#include <nlohmann/json.hpp>

#include <QtTest>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

qbtest::CliResult cli(const QStringList &args, const fs::path &cache, const QByteArray &input = {})
{
    return qbtest::runCli(args, cache, {{}, input, 120000});
}

using qbtest::jsonLines;
using qbtest::str;

fs::path tokenizerDir(const std::string &name)
{
    const fs::path data = qbtest::sharedDataDir();
    if (data.empty() || !fs::exists(data / "tokenizers" / name / "tokenizer.json"))
        return {};
    return data / "tokenizers" / name;
}

} // namespace

class TestCliText : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void help()
    {
        const fs::path tmp = qbtest::makeTempDir("cli-text");
        auto r = cli({"tokenize", "--help"}, tmp);
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("--add-special-tokens"));
        QVERIFY(r.out.contains("ESC>"));
        r = cli({"chat", "render", "--help"}, tmp);
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("--add-generation-prompt"));
        r = cli({"tokenize"}, tmp);
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("--tokenizer"));
    }

    void tokenizeLinesAndEscapedTexts()
    {
        const fs::path gpt2 = tokenizerDir("gpt2");
        if (gpt2.empty())
            QSKIP("shared/data/tokenizers/gpt2 is absent");
        const fs::path tmp = qbtest::makeTempDir("cli-text");
        const QByteArray input = "Hello world\n"
                                 "ESC>\"tabs\\tand\\nnewlines\\n\\n\\nx\"\n"
                                 "\n";
        auto r = cli({"tokenize", "--tokenizer", str(gpt2 / "tokenizer.json")}, tmp, input);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const auto rows = jsonLines(r.out);
        QCOMPARE(rows.size(), std::size_t(3));
        QCOMPARE(rows[0]["ids"], json::parse("[15496, 995]"));
        QCOMPARE(rows[0]["tokens"], json::parse(R"(["Hello", "\u0120world"])"));
        QCOMPARE(rows[0]["decoded"].get<std::string>(), std::string("Hello world"));
        QCOMPARE(rows[1]["ids"],
                 json::parse("[8658, 82, 197, 392, 198, 3605, 6615, 628, 198, 87]"));
        QCOMPARE(rows[1]["decoded"].get<std::string>(), std::string("tabs\tand\nnewlines\n\n\nx"));
        QCOMPARE(rows[2]["ids"], json::array());

        // The same from a file, and a bad escaped line named with its line number.
        qbtest::writeFile(tmp / "in.txt", "Hello world\nESC>not json\n");
        r = cli({"tokenize", "--tokenizer", str(gpt2 / "tokenizer.json"), "--input",
                 str(tmp / "in.txt")},
                tmp);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("in.txt:2: ESC> must be followed by a JSON string"),
                 qPrintable(r.err));
        QCOMPARE(jsonLines(r.out).size(), std::size_t(1));
    }

    void tokenizeWithSpecialTokens()
    {
        const fs::path bert = tokenizerDir("bert");
        if (bert.empty())
            QSKIP("shared/data/tokenizers/bert is absent");
        const fs::path tmp = qbtest::makeTempDir("cli-text");
        auto r = cli({"tokenize", "--tokenizer", str(bert / "tokenizer.json"),
                      "--add-special-tokens"},
                     tmp, "H\xC3\xA9llo, W\xC3\xB6rld!\n");
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const auto rows = jsonLines(r.out);
        QCOMPARE(rows.size(), std::size_t(1));
        QCOMPARE(rows[0]["ids"], json::parse("[101, 7592, 1010, 2088, 999, 102]"));
        QCOMPARE(rows[0]["tokens"],
                 json::parse(R"(["[CLS]", "hello", ",", "world", "!", "[SEP]"])"));
        QCOMPARE(rows[0]["decoded"].get<std::string>(), std::string("[CLS] hello, world! [SEP]"));
    }

    void chatRender()
    {
        const fs::path smol = tokenizerDir("smollm2");
        if (smol.empty())
            QSKIP("shared/data/tokenizers/smollm2 is absent");
        const fs::path tmp = qbtest::makeTempDir("cli-text");
        qbtest::writeFile(tmp / "messages.json",
                          R"([{"role": "user", "content": "What is 2+2?"}])");
        // SmolLM2's template adds its default system prompt when the first message is not one.
        auto r = cli({"chat", "render", "--tokenizer-config", str(smol / "tokenizer_config.json"),
                      "--messages", str(tmp / "messages.json"), "--add-generation-prompt"},
                     tmp);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QCOMPARE(r.out, QString("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
                                "trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is "
                                "2+2?<|im_end|>\n<|im_start|>assistant\n"));

        qbtest::writeFile(tmp / "bad" / "tokenizer_config.json",
                          R"({"chat_template":
                              "{% for m in messages %}\n{{ m.content | shout }}{% endfor %}"})");
        r = cli({"chat", "render", "--tokenizer-config", str(tmp / "bad" / "tokenizer_config.json"),
                 "--messages", str(tmp / "messages.json")},
                tmp);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("bad/tokenizer_config.json: chat_template line 2: unknown filter "
                                "'shout'"),
                 qPrintable(r.err));
    }
};

QTEST_APPLESS_MAIN(TestCliText)
#include "tst_cli_text.moc"
