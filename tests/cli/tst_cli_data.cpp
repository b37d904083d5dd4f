// quantbench-cli data show / data synth / score as a user drives them. Expected values come from
// outside the commands: the "#### N" line of the written file read here, hand-written GPQA csv
// and completions whose answers are known, and the real GSM8K test file when it is present.
#include "data/csv.h"
#include "support/cli_runner.h"

#include <nlohmann/json.hpp>

#include <QtTest>

#include <set>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

qbtest::CliResult cli(const QStringList &args, const fs::path &cache, const QByteArray &input = {})
{
    return qbtest::runCli(args, cache, {{}, input, 120000});
}

using qbtest::jsonLines;
using qbtest::str;

// The gold of a GSM8K solution, read here: the text after the last "#### ", commas dropped.
std::string goldAfterHashes(const std::string &solution)
{
    const auto pos = solution.rfind("#### ");
    if (pos == std::string::npos)
        return {};
    std::string gold;
    for (char c : solution.substr(pos + 5))
        if (c != ',' && c != ' ' && c != '\r' && c != '\n')
            gold += c;
    return gold;
}

std::string letterOf(const json &row) { return row["answer"].get<std::string>(); }

std::string chosenText(const json &row)
{
    const std::string letter = letterOf(row);
    if (letter.size() != 1 || letter[0] < 'A' || letter[0] > 'D')
        return "<bad letter '" + letter + "'>";
    return row["choices"][letter[0] - 'A'].get<std::string>();
}

std::set<std::string> choiceSet(const json &row)
{
    std::set<std::string> s;
    for (const auto &c : row["choices"])
        s.insert(c.get<std::string>());
    return s;
}

// Two GPQA rows with commas, doubled quotes and line breaks inside quoted fields, and the
// columns in an order of their own (plus one the loader ignores).
const char *kGpqaFixture
    = "Record ID,Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,"
      "Incorrect Answer 3,Subdomain,Extra\r\n"
      "rec1,\"Which is larger, 3 or 4?\",\"4, the larger one\",3,\"neither, they are equal\","
      "\"both \"\"3\"\" and 4\",Arithmetic,x\r\n"
      "rec2,\"A line break\ninside the question: what is 2 + 2?\",4,5,\"three\npoint nine\",22,"
      "Arithmetic,y\r\n";

struct FixtureRecord
{
    std::string id, question, correct;
    std::set<std::string> all;
};

const std::vector<FixtureRecord> &fixtureRecords()
{
    static const std::vector<FixtureRecord> records = {
        {"rec1", "Which is larger, 3 or 4?", "4, the larger one",
         {"4, the larger one", "3", "neither, they are equal", "both \"3\" and 4"}},
        {"rec2", "A line break\ninside the question: what is 2 + 2?", "4",
         {"4", "5", "three\npoint nine", "22"}},
    };
    return records;
}

QStringList scoreArgs(const char *task, const char *mode, const fs::path &input)
{
    return {"score", "--task", task, "--mode", mode, "--input", str(input)};
}

std::vector<std::string> extracted(const qbtest::CliResult &r)
{
    std::vector<std::string> values;
    for (const json &row : jsonLines(r.out)) {
        const std::string value = row["extracted"].get<std::string>();
        values.push_back(row["parsed"].get<bool>() ? value : "<unparsed:" + value + ">");
    }
    return values;
}

const char *kGsmCompletions
    = "{\"id\":\"a\",\"completion\":\"The answer is 42.\"}\n"
      "{\"id\":\"b\",\"completion\":\"She pays 1,000 + 234 = 1,234 dollars.\\n#### 1,234\"}\r\n"
      "\n"
      "{\"id\":\"c\",\"completion\":\"I do not know.\"}\n"
      "{\"id\":\"d\",\"completion\":\"#### 7 apples, or maybe 8\"}\n";

const char *kGpqaCompletions
    = "{\"completion\":\"(B)\"}\n"
      "{\"completion\":\"Answer: C\"}\n"
      "{\"completion\":\"The answer is (A).\"}\n"
      "{\"completion\":\"I think it is 4 km\",\"choices\":[\"1 km\",\"2 km\",\"3 km\",\"4 km\"]}\n"
      "{\"completion\":\"I think it is 4 km\"}\n"
      "{\"completion\":\"unsure\"}\n";

} // namespace

class TestCliData : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void helpAndUsage()
    {
        const fs::path tmp = qbtest::makeTempDir("clid");
        auto r = cli({"--help"}, tmp);
        QVERIFY(r.out.contains("data ") && r.out.contains("score "));
        r = cli({"data", "--help"}, tmp);
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("show") && r.out.contains("synth"));
        r = cli({"data", "show", "--help"}, tmp);
        QCOMPARE(r.code, 0);
        for (const char *opt : {"--task", "--path", "--seed", "choices"})
            QVERIFY2(r.out.contains(opt), opt);
        r = cli({"data", "synth", "--help"}, tmp);
        QCOMPARE(r.code, 0);
        for (const char *opt : {"--task", "--n", "--seed", "--out", "--split"})
            QVERIFY2(r.out.contains(opt), opt);
        r = cli({"score", "--help"}, tmp);
        QCOMPARE(r.code, 0);
        for (const char *opt : {"--task", "--mode", "--input", "--format", "--apply-stops",
                                "extracted", "parsed", "stdin"})
            QVERIFY2(r.out.contains(opt), opt);

        r = cli({"data", "show", "--task", "gsm8k", "--path", "x.jsonl", "--bogus"}, tmp);
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("unknown option --bogus"), qPrintable(r.err));
        r = cli({"score", "--task", "gsm8k", "--mode", "strict", "--verbose"}, tmp);
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("unknown option --verbose"), qPrintable(r.err));
        r = cli({"data", "frobnicate"}, tmp);
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("frobnicate"));
        r = cli({"data", "show", "--task", "mmlu", "--path", "x"}, tmp);
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("--task"));
        r = cli({"data", "synth", "--task", "gsm8k", "--n", "0", "--out", str(tmp / "x")}, tmp);
        QCOMPARE(r.code, 2);
        r = cli({"data", "synth", "--task", "gsm8k", "--out", str(tmp / "x")}, tmp);
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("--n"));
        r = cli({"score", "--task", "gsm8k"}, tmp);
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("--mode"));
        r = cli({"score", "--task", "gsm8k", "--mode", "lenient"}, tmp);
        QCOMPARE(r.code, 2);
        r = cli({"score", "--task", "gsm8k", "--mode", "strict", "--format", "gpqa_zeroshot"}, tmp);
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("gpqa_zeroshot"));
        QVERIFY(!fs::exists(tmp / "x"));
    }

    void gsmSynthReadsBackThroughShow()
    {
        const fs::path tmp = qbtest::makeTempDir("clid");
        const fs::path file = tmp / "sub" / "synth.jsonl";
        auto r = cli({"data", "synth", "--task", "gsm8k", "--n", "25", "--seed", "7", "--out",
                      str(file)}, tmp);
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        // Atomic write: the file and nothing else (no temp file left behind).
        QCOMPARE(std::distance(fs::directory_iterator(tmp / "sub"), fs::directory_iterator()), 1);

        const std::string text = qbtest::readFile(file);
        std::vector<json> written;
        for (const QString &line : QString::fromStdString(text).split('\n', Qt::SkipEmptyParts))
            written.push_back(json::parse(line.toStdString()));
        QCOMPARE(written.size(), size_t(25));
        for (const json &row : written) {
            QCOMPARE(row.size(), size_t(2)); // the official layout: question, answer
            QVERIFY(row["question"].is_string() && row["answer"].is_string());
        }

        r = cli({"data", "show", "--task", "gsm8k", "--path", str(file)}, tmp);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const auto shown = jsonLines(r.out);
        QCOMPARE(shown.size(), size_t(25));
        std::set<std::string> testQuestions;
        for (size_t i = 0; i < shown.size(); ++i) {
            const std::string gold = goldAfterHashes(written[i]["answer"].get<std::string>());
            QVERIFY(!gold.empty());
            QCOMPARE(shown[i]["answer"].get<std::string>(), gold);
            QCOMPARE(shown[i]["question"], written[i]["question"]);
            QCOMPARE(shown[i]["id"].get<std::string>(), "gsm8k-synth-" + std::to_string(i));
            testQuestions.insert(shown[i]["question"].get<std::string>());
        }
        QCOMPARE(testQuestions.size(), size_t(25));

        // Same options, same bytes; another seed, other problems; train never repeats test.
        const fs::path again = tmp / "again.jsonl", other = tmp / "other.jsonl";
        const fs::path train = tmp / "train.jsonl";
        QCOMPARE(cli({"data", "synth", "--task", "gsm8k", "--n", "25", "--seed", "7", "--out",
                      str(again)}, tmp).code, 0);
        QCOMPARE(cli({"data", "synth", "--task", "gsm8k", "--n", "25", "--seed", "8", "--out",
                      str(other)}, tmp).code, 0);
        QCOMPARE(cli({"data", "synth", "--task", "gsm8k", "--n", "25", "--seed", "7", "--split",
                      "train", "--out", str(train)}, tmp).code, 0);
        QCOMPARE(qbtest::readFile(again), text);
        QVERIFY(qbtest::readFile(other) != text);
        for (const QString &line :
             QString::fromStdString(qbtest::readFile(train)).split('\n', Qt::SkipEmptyParts)) {
            const auto q = json::parse(line.toStdString())["question"].get<std::string>();
            QVERIFY2(!testQuestions.count(q), q.c_str());
        }
    }

    void gpqaSynthReadsBackThroughShow()
    {
        const fs::path tmp = qbtest::makeTempDir("clid");
        const fs::path file = tmp / "synth.csv";
        auto r = cli({"data", "synth", "--task", "gpqa", "--n", "12", "--seed", "5", "--out",
                      str(file)}, tmp);
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        const auto rows = qb::data::parseCsv(qbtest::readFile(file), file.string());
        QCOMPARE(rows.size(), size_t(13));
        std::map<std::string, size_t> col;
        for (size_t i = 0; i < rows[0].fields.size(); ++i)
            col[rows[0].fields[i]] = i;
        for (const char *name : {"Question", "Correct Answer", "Incorrect Answer 1",
                                 "Incorrect Answer 2", "Incorrect Answer 3", "Record ID"})
            QVERIFY2(col.count(name), name);

        r = cli({"data", "show", "--task", "gpqa", "--path", str(file), "--seed", "5"}, tmp);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const auto shown = jsonLines(r.out);
        QCOMPARE(shown.size(), size_t(12));
        std::set<std::string> letters;
        for (size_t i = 0; i < shown.size(); ++i) {
            const auto &f = rows[i + 1].fields;
            QCOMPARE(shown[i]["id"].get<std::string>(), f[col["Record ID"]]);
            QCOMPARE(shown[i]["question"].get<std::string>(), f[col["Question"]]);
            QCOMPARE(chosenText(shown[i]), f[col["Correct Answer"]]);
            const std::set<std::string> all
                = {f[col["Correct Answer"]], f[col["Incorrect Answer 1"]],
                   f[col["Incorrect Answer 2"]], f[col["Incorrect Answer 3"]]};
            QCOMPARE(all.size(), size_t(4));
            QCOMPARE(choiceSet(shown[i]), all);
            letters.insert(letterOf(shown[i]));
        }
        QVERIFY2(letters.size() > 1, "the correct answer is not always in one place");
    }

    void gpqaFixtureShowsTheCorrectLetter()
    {
        const fs::path tmp = qbtest::makeTempDir("clid");
        const fs::path file = tmp / "fixture.csv";
        qbtest::writeFile(file, kGpqaFixture);
        std::set<std::string> orders;
        std::string seed1234;
        for (int seed = 1; seed <= 8; ++seed) {
            auto r = cli({"data", "show", "--task", "gpqa", "--path", str(file), "--seed",
                          QString::number(seed)}, tmp);
            QVERIFY2(r.code == 0, qPrintable(r.err));
            const auto shown = jsonLines(r.out);
            QCOMPARE(shown.size(), size_t(2));
            for (size_t i = 0; i < 2; ++i) {
                const FixtureRecord &want = fixtureRecords()[i];
                QCOMPARE(shown[i]["id"].get<std::string>(), want.id);
                QCOMPARE(shown[i]["question"].get<std::string>(), want.question);
                QCOMPARE(chosenText(shown[i]), want.correct);
                QCOMPARE(choiceSet(shown[i]), want.all);
            }
            orders.insert(shown[0]["choices"].dump());
        }
        QVERIFY2(orders.size() > 1, "the seed changes the order of the choices");

        // Without --seed the default 1234 is used; the same seed gives the same output.
        const auto a = cli({"data", "show", "--task", "gpqa", "--path", str(file)}, tmp);
        const auto b = cli({"data", "show", "--task", "gpqa", "--path", str(file), "--seed",
                            "1234"}, tmp);
        QCOMPARE(a.code, 0);
        QCOMPARE(a.out, b.out);
    }

    void gsmShowHandWrittenAndRealFile()
    {
        const fs::path tmp = qbtest::makeTempDir("clid");
        const fs::path file = tmp / "mini.jsonl";
        qbtest::writeFile(file,
                          "{\"question\": \"q1\", \"answer\": \"1,000 + 234 = 1,234\\n"
                          "#### 1,234\"}\n"
                          "\n"
                          "{\"question\": \"q2\", \"answer\": \"3 - 8 = -5\\n#### -5\"}\r\n"
                          "{\"question\": \"q3\", \"answer\": \"7 / 2 = 3.5\\n#### 3.5\"}\n");
        auto r = cli({"data", "show", "--task", "gsm8k", "--path", str(file)}, tmp);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const auto shown = jsonLines(r.out);
        QCOMPARE(shown.size(), size_t(3));
        const char *gold[] = {"1234", "-5", "3.5"};
        for (size_t i = 0; i < 3; ++i) {
            QCOMPARE(shown[i]["answer"].get<std::string>(), std::string(gold[i]));
            QCOMPARE(shown[i]["question"].get<std::string>(), "q" + std::to_string(i + 1));
            QCOMPARE(shown[i]["id"].get<std::string>(), "gsm8k-mini-" + std::to_string(i));
            QVERIFY(!shown[i].contains("choices"));
        }

        const fs::path dir = qbtest::sharedDataDir();
        const fs::path real = dir / "gsm8k" / "test.jsonl";
        if (dir.empty() || !fs::exists(real))
            QSKIP("real GSM8K test file not present (QB_TEST_DATA_DIR/gsm8k/test.jsonl)");
        r = cli({"data", "show", "--task", "gsm8k", "--path", str(real)}, tmp);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const auto realShown = jsonLines(r.out);
        std::vector<std::string> golds;
        for (const QString &line : QString::fromStdString(qbtest::readFile(real))
                                       .split('\n', Qt::SkipEmptyParts))
            golds.push_back(goldAfterHashes(json::parse(line.toStdString())["answer"]));
        QCOMPARE(realShown.size(), golds.size());
        QCOMPARE(golds.size(), size_t(1319)); // SOURCE.md: 1319 lines
        QCOMPARE(realShown[0]["answer"].get<std::string>(), std::string("18"));
        for (size_t i = 0; i < golds.size(); ++i)
            QCOMPARE(realShown[i]["answer"].get<std::string>(), golds[i]);
    }

    void scoreGsmCompletions()
    {
        const fs::path tmp = qbtest::makeTempDir("clid");
        const fs::path file = tmp / "completions.jsonl";
        qbtest::writeFile(file, kGsmCompletions);

        auto r = cli(scoreArgs("gsm8k", "strict", file), tmp);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const std::string u = "<unparsed:>";
        QCOMPARE(extracted(r), (std::vector<std::string>{u, "1234", u, "7"}));
        // Input fields kept, in their order, then the two added ones.
        QCOMPARE(jsonLines(r.out)[1]["id"].get<std::string>(), std::string("b"));
        QCOMPARE(r.out.split('\n')[0], QString(R"({"id":"a","completion":"The answer is 42.",)"
                                                R"("extracted":"","parsed":false})"));

        r = cli(scoreArgs("gsm8k", "strict", file) << "--format" << "gsm8k_cot", tmp);
        QCOMPARE(extracted(r), (std::vector<std::string>{"42", u, u, u}));

        r = cli(scoreArgs("gsm8k", "flexible", file), tmp);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QCOMPARE(extracted(r), (std::vector<std::string>{"42", "1234", u, "8"}));

        // stdin gives the same as --input.
        const auto viaStdin = cli({"score", "--task", "gsm8k", "--mode", "flexible"}, tmp,
                                  QByteArray(kGsmCompletions));
        QCOMPARE(viaStdin.code, 0);
        QCOMPARE(viaStdin.out, r.out);

        // An uncut completion: the next "Question:" belongs to another problem.
        const QByteArray uncut = "{\"completion\":\"#### 5\\n\\nQuestion: and then?\\n#### 9\"}\n";
        r = cli({"score", "--task", "gsm8k", "--mode", "flexible"}, tmp, uncut);
        QCOMPARE(extracted(r), (std::vector<std::string>{"9"}));
        r = cli({"score", "--task", "gsm8k", "--mode", "flexible", "--apply-stops"}, tmp, uncut);
        QCOMPARE(extracted(r), (std::vector<std::string>{"5"}));

        // A reasoning model's thinking is set aside: "<think>" 7 + "#### 3" 6 + "</think>" 8.
        const QByteArray thinking = "{\"completion\":\"<think>#### 3</think>\\n#### 6\"}\n";
        r = cli({"score", "--task", "gsm8k", "--mode", "strict"}, tmp, thinking);
        QCOMPARE(extracted(r), (std::vector<std::string>{"6"}));
        QCOMPARE(jsonLines(r.out)[0]["think_chars"].get<int64_t>(), int64_t(21));
    }

    void scoreGpqaCompletions()
    {
        const fs::path tmp = qbtest::makeTempDir("clid");
        const fs::path file = tmp / "gpqa.jsonl";
        qbtest::writeFile(file, kGpqaCompletions);
        const std::string u = "<unparsed:>";

        auto r = cli(scoreArgs("gpqa", "strict", file), tmp);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QCOMPARE(extracted(r), (std::vector<std::string>{"B", u, "A", u, u, u}));

        r = cli(scoreArgs("gpqa", "flexible", file), tmp);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QCOMPARE(extracted(r), (std::vector<std::string>{"B", "C", "A", "D", u, u}));
        QVERIFY(jsonLines(r.out)[3].contains("choices"));

        // Chain of thought has no "opens with the letter" rule; "(B)" is still the last "(B)".
        r = cli(scoreArgs("gpqa", "strict", file) << "--format" << "gpqa_cot_zeroshot", tmp);
        QCOMPARE(extracted(r), (std::vector<std::string>{u, u, "A", u, u, u}));
        r = cli(scoreArgs("gpqa", "flexible", file) << "--format" << "gpqa_cot_zeroshot", tmp);
        QCOMPARE(extracted(r), (std::vector<std::string>{"B", "C", "A", "D", u, u}));
    }

    void badInputNamesFileAndLine()
    {
        const fs::path tmp = qbtest::makeTempDir("clid");
        auto r = cli(scoreArgs("gsm8k", "strict", tmp / "missing.jsonl"), tmp);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("missing.jsonl: cannot open"), qPrintable(r.err));
        r = cli({"data", "show", "--task", "gsm8k", "--path", str(tmp / "nothere.jsonl")}, tmp);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("nothere.jsonl: cannot open"), qPrintable(r.err));
        r = cli({"data", "show", "--task", "gpqa", "--path", str(tmp / "nothere.csv")}, tmp);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("nothere.csv: cannot open"), qPrintable(r.err));

        const fs::path bad = tmp / "bad.jsonl";
        qbtest::writeFile(bad, "{\"completion\":\"#### 1\"}\n\n{not json\n");
        r = cli(scoreArgs("gsm8k", "strict", bad), tmp);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("bad.jsonl:3: not a JSON object"), qPrintable(r.err));
        QVERIFY2(r.out.contains("\"extracted\":\"1\""), qPrintable(r.out)); // line 1 was written

        const fs::path noField = tmp / "nofield.jsonl";
        qbtest::writeFile(noField, "{\"completion\":\"x\"}\n{\"text\":\"#### 1\"}\n");
        r = cli(scoreArgs("gsm8k", "flexible", noField), tmp);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("nofield.jsonl:2: missing string field \"completion\""),
                 qPrintable(r.err));

        r = cli({"score", "--task", "gpqa", "--mode", "strict"}, tmp, "[1, 2]\n");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("<stdin>:1: expected a JSON object"), qPrintable(r.err));
        r = cli({"score", "--task", "gpqa", "--mode", "strict"}, tmp,
                "{\"completion\":\"(A)\",\"choices\":[\"a\",\"b\"]}\n");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("<stdin>:1: \"choices\" must be an array of four strings"),
                 qPrintable(r.err));

        const fs::path badGsm = tmp / "badgsm.jsonl";
        qbtest::writeFile(badGsm, "{\"question\": \"q\", \"answer\": \"#### 1\"}\n"
                                  "{\"question\": \"q\", \"answer\": \"no number\"}\n");
        r = cli({"data", "show", "--task", "gsm8k", "--path", str(badGsm)}, tmp);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("badgsm.jsonl:2:"), qPrintable(r.err));

        const fs::path badCsv = tmp / "badgpqa.csv";
        qbtest::writeFile(badCsv, "Question,Correct Answer\nq,a\n");
        r = cli({"data", "show", "--task", "gpqa", "--path", str(badCsv)}, tmp);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("badgpqa.csv") && r.err.contains("Incorrect Answer 1"),
                 qPrintable(r.err));
    }
};

QTEST_GUILESS_MAIN(TestCliData)
#include "tst_cli_data.moc"
