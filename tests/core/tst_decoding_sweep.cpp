// The decoding sweep: maj@k from prefixes of one set of samples on hand-written completions
// (votes and counts worked out by hand below), the strict/flexible/unparsed audit including the
// direct-answer format, the settings a sweep visits, and on the shipped tiny-reasoner every sweep
// row (greedy, sampled maj@1, sampled maj@k) equal to eval::evaluate run alone with that setting.
#include "decoding_sweep_probe.h"

#include <QtTest>

#include <nlohmann/json.hpp>

using nlohmann::json;

class TestDecodingSweep : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void thinkingLengthIsReported()
    {
        // q0's samples set aside "<think>a</think>" (16 characters) and "<think>abcdefg</think>"
        // (22); q1 has no thinking. The row's mean is over the completions that think.
        const std::vector<std::string> golds = {"4", "5"};
        const std::vector<std::vector<std::string>> samples = {
            {"<think>a</think>#### 4", "<think>abcdefg</think>#### 4"}, {"#### 5", "#### 5"}};
        const auto c = sweepprobe::summarizeHand("gsm8k", golds, samples, 2);
        QCOMPARE(c.correct, int64_t(2));
        QCOMPARE(c.recordThink, (std::vector<int64_t>{16, -1})); // the first sample's
        QCOMPARE(c.meanThinkChars, (16.0 + 22.0) / 2.0);
        const auto plain = sweepprobe::summarizeHand("gsm8k", {"5"}, {{"#### 5"}}, 1);
        QCOMPARE(plain.meanThinkChars, -1.0);
    }

    void majorityFromPrefixes()
    {
        // Gold 5: strict 5,3,3,5,5. Gold 7: strict -,7,-,8,8 (flexible the same: no numbers in
        // "no answer" and "x"). Gold 12: strict -,12,12,1,1; flexible 12,12,12,1,1.
        const std::vector<std::string> golds = {"5", "7", "12"};
        const std::vector<std::vector<std::string>> samples = {
            {"2 + 3 = 5.\n#### 5", "#### 3", "#### 3", "#### 5", "#### 5"},
            {"no answer", "#### 7", "x", "#### 8", "#### 8"},
            {"The total is 12.", "#### 12", "#### 12", "#### 1", "#### 1"}};
        // maj@1: 5 right; unparsed; unparsed (flexible 12 right).
        auto c = sweepprobe::summarizeHand("gsm8k", golds, samples, 1);
        QCOMPARE(c.n, 3);
        QCOMPARE(c.correct, 1);
        QCOMPARE(c.flexibleCorrect, 2);
        QCOMPARE(c.unparsed, 2);
        QCOMPARE(c.strictAnswers, (std::vector<std::string>{"5", "", ""}));
        // maj@3: {5,3,3} -> 3 wrong; {7} -> 7 right; {12,12} -> right. Flexible: 3 wrong, 7, 12.
        c = sweepprobe::summarizeHand("gsm8k", golds, samples, 3);
        QCOMPARE(c.correct, 2);
        QCOMPARE(c.flexibleCorrect, 2);
        QCOMPARE(c.unparsed, 0);
        QCOMPARE(c.strictAnswers, (std::vector<std::string>{"3", "7", "12"}));
        // maj@5: 5 (3 votes) right; {7,8,8} -> 8 wrong; {12,12,1,1} tie -> 12 (seen first).
        c = sweepprobe::summarizeHand("gsm8k", golds, samples, 5);
        QCOMPARE(c.correct, 2);
        QCOMPARE(c.flexibleCorrect, 2);
        QCOMPARE(c.unparsed, 0);
        QCOMPARE(c.strictAnswers, (std::vector<std::string>{"5", "8", "12"}));
        // k beyond the samples drawn is an error, not a silent maj@5.
        QVERIFY_THROWS_EXCEPTION(std::exception,
                                 sweepprobe::summarizeHand("gsm8k", golds, samples, 6));
    }

    void extractionAuditCounts()
    {
        // gsm8k_direct: the prompt ends in "####", so the strict answer is the number that opens
        // the completion; flexible is the last number anywhere.
        const std::vector<std::string> golds = {"42", "42", "42", "42", "42"};
        const std::vector<std::vector<std::string>> direct = {
            {" 42"}, {"42"}, {" about 42"}, {""}, {" 41"}};
        auto c = sweepprobe::summarizeHand("gsm8k_direct", golds, direct, 1);
        QCOMPARE(c.correct, 2);         // " 42", "42"
        QCOMPARE(c.flexibleCorrect, 3); // and "about 42"
        QCOMPARE(c.unparsed, 2);        // "about 42", ""
        QCOMPARE(c.strictAnswers, (std::vector<std::string>{"42", "42", "", "", "41"}));

        // gsm8k_cot: strict reads "The answer is N"; "#### 42" is only flexible there.
        const std::vector<std::vector<std::string>> cot = {{" 6 * 7 = 42. The answer is 42."},
                                                           {" #### 42"},
                                                           {" The answer is 40."},
                                                           {" I do not know."},
                                                           {" The answer is 4,2."}};
        c = sweepprobe::summarizeHand("gsm8k_cot", golds, cot, 1);
        QCOMPARE(c.correct, 2);         // first and last ("4,2" normalizes to 42)
        QCOMPARE(c.flexibleCorrect, 3); // and "#### 42"
        QCOMPARE(c.unparsed, 2);        // "#### 42", "I do not know."
    }

    void pointsGreedyOncePerStyle()
    {
        const auto p = sweepprobe::points({0.7, 0.0, 0.7, 1.3}, {1.0, 0.9}, {0}, {"cot", "direct"},
                                          {5, 1, 5});
        // Greedy first in each style, once (top-p does not apply), k ascending and unique.
        const std::vector<std::string> want = {
            "cot 0 1 0 1",          "cot 0.7 1 0 1,5",       "cot 0.7 0.9 0 1,5",
            "cot 1.3 1 0 1,5",      "cot 1.3 0.9 0 1,5",     "direct 0 1 0 1",
            "direct 0.7 1 0 1,5",   "direct 0.7 0.9 0 1,5",  "direct 1.3 1 0 1,5",
            "direct 1.3 0.9 0 1,5"};
        QCOMPARE(p, want);
        QVERIFY_THROWS_EXCEPTION(std::exception,
                                 sweepprobe::points({0}, {1}, {0}, {"chatty"}, {1}));
        QVERIFY_THROWS_EXCEPTION(std::exception, sweepprobe::points({0}, {1.5}, {0}, {"cot"}, {1}));
        QVERIFY_THROWS_EXCEPTION(std::exception, sweepprobe::points({-1}, {1}, {0}, {"cot"}, {1}));
        QVERIFY_THROWS_EXCEPTION(std::exception, sweepprobe::points({0}, {1}, {0}, {"cot"}, {0}));
    }

    void rowsEqualEvaluateAlone()
    {
        const auto pairs = sweepprobe::sweepAgainstEvaluate(8, 3.0, 3, 42);
        QCOMPARE(pairs.size(), size_t(3)); // greedy, T=3 maj@1, T=3 maj@3
        int greedyRows = 0;
        for (const auto &p : pairs) {
            const json s = json::parse(p.sweepRow), e = json::parse(p.evaluateRow);
            QCOMPARE(s["n"].get<int>(), 8);
            QCOMPARE(s["accuracy"].get<double>(), e["accuracy"].get<double>());
            QCOMPARE(s["flexible_accuracy"].get<double>(), e["flexible_accuracy"].get<double>());
            QCOMPARE(s["unparsed_rate"].get<double>(), e["unparsed_rate"].get<double>());
            QCOMPARE(s["self_consistency"], e["self_consistency"]);
            QCOMPARE(s["mean_generated_tokens"].get<double>(),
                     e["mean_generated_tokens"].get<double>());
            QCOMPARE(p.sweepCompletions, p.evaluateCompletions);
            QVERIFY(s.contains("greedy_accuracy"));
            if (s["temperature"].get<double>() == 0) {
                ++greedyRows;
                QCOMPARE(s["drop_from_greedy"].get<double>(), 0.0);
            } else {
                QCOMPARE(s["drop_from_greedy"].get<double>(),
                         s["greedy_accuracy"].get<double>() - s["accuracy"].get<double>());
            }
        }
        QCOMPARE(greedyRows, 1);
        // The shipped model at greedy gets most of these right; sampling at T=3 is not a no-op
        // (at T=1 this confident model samples its greedy completions on all of them).
        QVERIFY(json::parse(pairs[0].sweepRow)["accuracy"].get<double>() > 0.5);
        QVERIFY(pairs[0].sweepCompletions != pairs[1].sweepCompletions);
    }
};

QTEST_GUILESS_MAIN(TestDecodingSweep)
#include "tst_decoding_sweep.moc"
