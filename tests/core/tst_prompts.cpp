// Prompt strings compared with lm-eval's templates written out by hand (gsm8k.yaml,
// gsm8k-cot.yaml, gpqa _zeroshot_yaml / _cot_zeroshot_yaml): delimiters, spacing and the
// "question:" without a space are deliberate.
#include "data/prompts.h"
#include "eval/question_set.h"
#include "util/error.h"

#include <QtTest>

#include <set>

using namespace qb::data;

class TestPrompts : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void gsm8k()
    {
        GsmRecord shot{"id", "How many?", "It is 2+3=<<2+3=5>>5.\n#### 5", "5"};
        QCOMPARE(gsm8kPrompt("Next one?", {shot, shot}),
                 std::string("Question: How many?\nAnswer: It is 2+3=<<2+3=5>>5.\n#### 5\n\n"
                             "Question: How many?\nAnswer: It is 2+3=<<2+3=5>>5.\n#### 5\n\n"
                             "Question: Next one?\nAnswer:"));
        QCOMPARE(gsm8kPrompt("Alone?"), std::string("Question: Alone?\nAnswer:"));
        QCOMPARE(gsmTarget(shot, PromptFormat::Gsm8k),
                 std::string(" It is 2+3=<<2+3=5>>5.\n#### 5"));
    }

    void gsm8kCot()
    {
        GsmRecord r{"id", "Q?",
                    "Tom has 12 + 7 = <<12+7=19>>19 apples.\nThen he has 19 - 5 = 14.\n#### 14", "14"};
        QCOMPARE(cotTarget(r), std::string("Tom has 12 + 7 = 19 apples. Then he has 19 - 5 = 14. "
                                           "The answer is 14."));
        QCOMPARE(gsm8kCotPrompt("Now?", {toCotExemplar(r)}),
                 std::string("Q: Q?\nA: Tom has 12 + 7 = 19 apples. Then he has 19 - 5 = 14. The "
                             "answer is 14.\n\nQ: Now?\nA:"));
        const auto &standard = standardCotExemplars();
        QCOMPARE(standard.size(), size_t(8));
        const std::string p = gsm8kCotPrompt("X?", standard);
        QVERIFY(p.rfind("Q: There are 15 trees in the grove.", 0) == 0);
        QVERIFY(p.find("The answer is 6.\n\nQ: If there are 3 cars") != std::string::npos);
        const std::string tail = "\n\nQ: X?\nA:";
        QCOMPARE(p.substr(p.size() - tail.size()), tail);
        for (const CotExemplar &e : standard) {
            QVERIFY(e.target.size() > 14);
            QCOMPARE(e.target.substr(e.target.rfind("The answer is ")).back(), '.');
        }
    }

    void gpqa()
    {
        GpqaRecord r;
        r.question = "How far?";
        r.choices = {"1 km", "2 km", "3 km", "4 km"};
        r.goldIndex = 1;
        r.explanation = "d = v t = 2 km.";
        const std::string body = "What is the correct answer to this question:How far?\nChoices:\n"
                                 "(A) 1 km\n(B) 2 km\n(C) 3 km\n(D) 4 km\n";
        QCOMPARE(gpqaPrompt(r, PromptFormat::GpqaZeroShot), body + "Answer:");
        QCOMPARE(gpqaPrompt(r, PromptFormat::GpqaCot), body + "Let's think step by step: ");
        QCOMPARE(gpqaTarget(r, PromptFormat::GpqaZeroShot), std::string(" (B)"));
        QCOMPARE(gpqaTarget(r, PromptFormat::GpqaCot),
                 std::string("d = v t = 2 km. (A) 1 km: no. (B) 2 km: yes. The answer is (B)."));
        r.goldIndex = 0;
        QCOMPARE(gpqaTarget(r, PromptFormat::GpqaCot),
                 std::string("d = v t = 2 km. (A) 1 km: yes. The answer is (A)."));
        QCOMPARE(gpqaChoiceContinuations(),
                 (std::vector<std::string>{" (A)", " (B)", " (C)", " (D)"}));
        QVERIFY_THROWS_EXCEPTION(qb::Error, gpqaPrompt(r, PromptFormat::Gsm8k));
    }

    void namesAndStops()
    {
        for (PromptFormat f : {PromptFormat::Gsm8k, PromptFormat::Gsm8kCot,
                               PromptFormat::Gsm8kDirect, PromptFormat::GpqaZeroShot,
                               PromptFormat::GpqaCot})
            QCOMPARE(promptFormatFromName(promptFormatName(f)), f);
        QCOMPARE(std::string(promptFormatName(PromptFormat::GpqaCot)),
                 std::string("gpqa_cot_zeroshot"));
        QVERIFY_THROWS_EXCEPTION(qb::Error, promptFormatFromName("gsm9k"));
        QCOMPARE(stopSequences(PromptFormat::Gsm8k),
                 (std::vector<std::string>{"Question:", "</s>", "<|im_end|>"}));
        QCOMPARE(stopSequences(PromptFormat::Gsm8kCot),
                 (std::vector<std::string>{"Q:", "</s>", "<|im_end|>"}));
        QCOMPARE(stopSequences(PromptFormat::GpqaCot), (std::vector<std::string>{"</s>"}));
        // The direct answer is one line.
        QCOMPARE(stopSequences(PromptFormat::Gsm8kDirect),
                 (std::vector<std::string>{"\n", "Question:", "</s>", "<|im_end|>"}));
        QVERIFY(isGsmFormat(PromptFormat::Gsm8kDirect));
        QCOMPARE(gsm8kDirectPrompt("How many?"), std::string("Question: How many?\nAnswer: ####"));
    }

    void fewShot()
    {
        const auto a = fewShotIndices(7473, 5, 1234);
        QCOMPARE(a.size(), size_t(5));
        QCOMPARE(a, fewShotIndices(7473, 5, 1234));
        QVERIFY(a != fewShotIndices(7473, 5, 1235));
        QCOMPARE(std::set<size_t>(a.begin(), a.end()).size(), size_t(5));
        for (size_t i : a)
            QVERIFY(i < 7473);
        const auto all = fewShotIndices(3, 8, 1);
        QCOMPARE(std::set<size_t>(all.begin(), all.end()), (std::set<size_t>{0, 1, 2}));
        QVERIFY(fewShotIndices(0, 5, 1).empty());
        QVERIFY(fewShotIndices(10, 0, 1).empty());
    }

    void gsm8kKShotFromAPool()
    {
        // lm-eval's gsm8k: k shots from the train split before each question, drawn per question.
        std::vector<GsmRecord> pool;
        for (int i = 0; i < 6; ++i)
            pool.push_back({"p" + std::to_string(i), "Pool question " + std::to_string(i) + "?",
                            "So " + std::to_string(i) + ".\n#### " + std::to_string(i),
                            std::to_string(i)});
        const std::vector<GsmRecord> tests = {{"t0", "Test A?", "#### 1", "1"},
                                              pool[2], // a question that is also in the pool
                                              {"t2", "Test C?", "#### 3", "3"}};
        qb::eval::PromptOptions o;
        o.numFewshot = 3;
        o.fewshotPool = pool;
        const auto set = qb::eval::gsmQuestions(tests, o);
        QCOMPARE(set.questions.size(), size_t(3));
        for (size_t i = 0; i < tests.size(); ++i) {
            // The expected shots written out: the first 3 of 4 draws that are not the question.
            std::vector<GsmRecord> shots;
            for (size_t k : fewShotIndices(6, 4, 1234 + i))
                if (pool[k].question != tests[i].question && shots.size() < 3)
                    shots.push_back(pool[k]);
            QCOMPARE(shots.size(), size_t(3));
            const std::string &prompt = set.questions[i].prompt;
            QCOMPARE(prompt, gsm8kPrompt(tests[i].question, shots));
            QVERIFY(prompt.size() > tests[i].question.size() + 9);
            QCOMPARE(prompt.substr(prompt.size() - tests[i].question.size() - 18),
                     "Question: " + tests[i].question + "\nAnswer:");
        }
        // Pool question 2 is asked once, never shown as its own shot.
        const std::string &own = set.questions[1].prompt;
        QCOMPARE(own.find("Pool question 2?"), own.rfind("Pool question 2?"));
        // Shots differ between questions, and the same seed gives the same prompts.
        QVERIFY(set.questions[0].prompt.substr(0, 40) != set.questions[2].prompt.substr(0, 40));
        QCOMPARE(qb::eval::gsmQuestions(tests, o).questions[2].prompt, set.questions[2].prompt);
        // k-shot gsm8k without a pool is an error that says what to connect.
        o.fewshotPool.clear();
        try {
            qb::eval::gsmQuestions(tests, o);
            QFAIL("expected an error");
        } catch (const qb::Error &e) {
            QVERIFY2(std::string(e.what()).find("'fewshot' input") != std::string::npos, e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestPrompts)
#include "tst_prompts.moc"
