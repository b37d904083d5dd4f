// The built-in data generators: deterministic bytes per seed, disjoint train/test splits, and a
// property test that re-evaluates every equation of every generated GSM solution. The random
// source is checked against values the C++ standard fixes for std::mt19937_64.
#include "data/answer_extract.h"
#include "data/det_random.h"
#include "data/gpqa_generator.h"
#include "data/gsm_generator.h"
#include "data/prompts.h"
#include "util/error.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

using namespace qb::data;

class TestGenerators : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void rngMatchesStandard()
    {
        // [rand.predef]: the 10000th invocation of a default-constructed mt19937_64 (seed 5489)
        // yields 9981545732273789042.
        DetRng rng(5489);
        std::uint64_t x = 0;
        for (int i = 0; i < 10000; ++i)
            x = rng.next();
        QCOMPARE(x, std::uint64_t(9981545732273789042ULL));

        // The first output for seed 5489 is 14514284786278117030; 2^64 mod 10 = 6 and
        // 2^64 mod 1000 = 616 are below it, so no redraw: below(n) is that value mod n.
        QCOMPARE(DetRng(5489).below(10), std::uint64_t(0));
        QCOMPARE(DetRng(5489).below(1000), std::uint64_t(30));
        QCOMPARE(DetRng(5489).range(100, 1099), 130);
    }

    void rngRangesAndShuffleAreUniform()
    {
        DetRng rng(42);
        int counts[6] = {0};
        for (int i = 0; i < 60000; ++i) {
            const int v = rng.range(-2, 3);
            QVERIFY(v >= -2 && v <= 3);
            ++counts[v + 2];
        }
        for (int c : counts) // expected 10000, sd ~91
            QVERIFY2(c > 9500 && c < 10500, std::to_string(c).c_str());

        std::map<std::vector<int>, int> perms;
        for (int i = 0; i < 24000; ++i) {
            std::vector<int> v = {0, 1, 2, 3};
            rng.shuffle(v);
            ++perms[v];
        }
        QCOMPARE(perms.size(), size_t(24));
        for (const auto &[perm, c] : perms) // expected 1000, sd ~31
            QVERIFY2(c > 850 && c < 1150, std::to_string(c).c_str());
    }

    void gsmDeterministic()
    {
        GsmGeneratorOptions o;
        o.seed = 77;
        const std::string a = toGsmJsonl(recordsOf(generateGsmProblems(o, Split::Train, 200)));
        const std::string b = toGsmJsonl(recordsOf(generateGsmProblems(o, Split::Train, 200)));
        QCOMPARE(a, b);
        o.seed = 78;
        QVERIFY(toGsmJsonl(recordsOf(generateGsmProblems(o, Split::Train, 200))) != a);
        // The test split does not depend on how many train problems were made.
        o.seed = 77;
        const auto t1 = generateGsmProblems(o, Split::Test, 50);
        const auto t2 = generateGsmProblems(o, Split::Test, 80);
        for (size_t i = 0; i < t1.size(); ++i)
            QCOMPARE(t1[i].record.question, t2[i].record.question);
    }

    void gsmSplitsDisjoint()
    {
        GsmGeneratorOptions o;
        const auto train = generateGsmProblems(o, Split::Train, 3000);
        const auto test = generateGsmProblems(o, Split::Test, 600);
        std::set<std::string> trainQuestions;
        for (const GsmProblem &p : train)
            QVERIFY(trainQuestions.insert(p.record.question).second); // no duplicates either
        std::set<std::string> testQuestions;
        for (const GsmProblem &p : test) {
            QVERIFY(!trainQuestions.count(p.record.question));
            QVERIFY(testQuestions.insert(p.record.question).second);
            QCOMPARE(splitOf(p.record.question, o.testPermille), Split::Test);
        }
        // A different seed's test set is still disjoint from this train set.
        o.seed = 999;
        for (const GsmProblem &p : generateGsmProblems(o, Split::Test, 600))
            QVERIFY(!trainQuestions.count(p.record.question));
        QCOMPARE(train[5].record.id, std::string("synth-gsm-train-5"));
        QCOMPARE(test[0].record.id, std::string("synth-gsm-test-0"));
    }

    void gsmSolutionsAreRight_data()
    {
        QTest::addColumn<int>("maxValue");
        QTest::addColumn<int>("minSteps");
        QTest::addColumn<int>("maxSteps");
        QTest::newRow("default") << 99 << 2 << 4;
        QTest::newRow("small") << 20 << 1 << 3;
        QTest::newRow("wide") << 500 << 3 << 6;
    }

    void gsmSolutionsAreRight()
    {
        QFETCH(int, maxValue);
        QFETCH(int, minSteps);
        QFETCH(int, maxSteps);
        GsmGeneratorOptions o;
        o.maxValue = maxValue;
        o.minSteps = minSteps;
        o.maxSteps = maxSteps;
        const auto problems = generateGsmProblems(o, Split::Train, 2000);
        std::set<std::string> firstWords, lastWords;
        int maxSeen = 0;
        for (const GsmProblem &p : problems) {
            const GsmRecord &r = p.record;
            // Re-read the solution text, not the structured steps, and check the arithmetic.
            const std::vector<GsmStep> steps = stepResults(r.solution);
            QVERIFY2(steps.size() >= size_t(minSteps) && steps.size() <= size_t(maxSteps),
                     r.solution.c_str());
            QVERIFY(steps == p.steps);
            double previous = p.startValue;
            for (const GsmStep &s : steps) {
                double expected = 0;
                switch (s.op) {
                case '+': expected = s.a + s.b; break;
                case '-': expected = s.a - s.b; break;
                case '*': expected = s.a * s.b; break;
                default: QFAIL(r.solution.c_str());
                }
                QVERIFY2(expected == s.c, r.solution.c_str());
                QVERIFY2(s.a == previous, r.solution.c_str()); // each step builds on the last
                for (double v : {s.a, s.b, s.c})
                    QVERIFY2(v >= 0 && v <= maxValue && v == std::floor(v), r.solution.c_str());
                maxSeen = std::max(maxSeen, int(s.c));
                previous = s.c;
            }
            QCOMPARE(r.gold, std::to_string(int(steps.back().c)));
            QCOMPARE(goldFromSolution(r.solution), r.gold);
            QVERIFY(r.solution.size() > r.gold.size() + 5);
            QCOMPARE(r.solution.substr(r.solution.size() - r.gold.size() - 5),
                     "#### " + r.gold);
            // The question states the start value and every operand as a number or factor word.
            QVERIFY2(r.question.find(" " + std::to_string(p.startValue) + " ") != std::string::npos,
                     r.question.c_str());
            QVERIFY(r.question.back() == '?');
            // Each solution line restates the story's events in order: its text before ", so"
            // is the next sentence of the question.
            size_t from = r.question.find(". ") + 2;
            for (size_t line = 0, at = 0; line < steps.size(); ++line) {
                const size_t end = r.solution.find('\n', at);
                const std::string text = r.solution.substr(at, end - at);
                const size_t so = text.find(", so ");
                QVERIFY2(so != std::string::npos, text.c_str());
                const std::string event = text.substr(0, so) + ".";
                QVERIFY2(r.question.compare(from, event.size(), event) == 0, r.solution.c_str());
                from += event.size() + 1;
                at = end + 1;
            }
            // The official answer filters read the right answer from the solution.
            QVERIFY(checkGsmAnswer(r.solution, r.gold, PromptFormat::Gsm8k).strictCorrect);
            QVERIFY(checkGsmAnswer(r.solution, r.gold, PromptFormat::Gsm8k).flexibleCorrect);
            QVERIFY(checkGsmAnswer(cotTarget(r), r.gold, PromptFormat::Gsm8kCot).strictCorrect);
            QCOMPARE(scoreSteps(r.solution, p.steps).fraction(), 1.0);
            firstWords.insert(r.question.substr(0, r.question.find(' ')));
            lastWords.insert(r.question.substr(r.question.rfind(' ', r.question.size() - 6)));
        }
        if (maxValue >= 50)
            QVERIFY2(maxSeen >= 50, std::to_string(maxSeen).c_str()); // totals reach 50 and more
        QVERIFY(firstWords.size() >= 15); // names vary
        QVERIFY(lastWords.size() >= 3);   // question endings vary
    }

    void gsmRoundTripsThroughJsonl()
    {
        const auto problems = generateGsmProblems(GsmGeneratorOptions(), Split::Test, 100);
        const auto records = parseGsmJsonl(toGsmJsonl(recordsOf(problems)), "synth_test.jsonl");
        QCOMPARE(records.size(), problems.size());
        for (size_t i = 0; i < records.size(); ++i) {
            QCOMPARE(records[i].question, problems[i].record.question);
            QCOMPARE(records[i].gold, problems[i].record.gold);
            QVERIFY(stepResults(records[i].solution) == problems[i].steps);
        }
    }

    void gsmRejectsBadOptions()
    {
        GsmGeneratorOptions o;
        o.maxValue = 5;
        QVERIFY_THROWS_EXCEPTION(qb::Error, generateGsmProblems(o, Split::Train, 1));
        o = GsmGeneratorOptions();
        o.minSteps = 3;
        o.maxSteps = 2;
        QVERIFY_THROWS_EXCEPTION(qb::Error, generateGsmProblems(o, Split::Train, 1));
    }

    void formatsQuantities()
    {
        QCOMPARE(formatQuantity(50), std::string("50"));
        QCOMPARE(formatQuantity(0.0066667), std::string("0.006667"));
        QCOMPARE(formatQuantity(180.156), std::string("180.2"));
        QCOMPARE(formatQuantity(18.015), std::string("18.02")); // stored as 18.01500000000000057
        QCOMPARE(formatQuantity(1234567), std::string("1235000"));
        QCOMPARE(formatQuantity(0.5), std::string("0.5"));
        QCOMPARE(formatQuantity(2.5), std::string("2.5"));
        QCOMPARE(formatQuantity(9.99996), std::string("10"));
        QCOMPARE(formatQuantity(-3.25), std::string("-3.25"));
        QCOMPARE(formatQuantity(0), std::string("0"));
        QCOMPARE(formatQuantity(1e-6), std::string("1.000e-06"));
    }

    void gpqaDeterministicDisjointAndWellFormed()
    {
        GpqaGeneratorOptions o;
        const auto train = generateGpqaRecords(o, Split::Train, 1500);
        const auto test = generateGpqaRecords(o, Split::Test, 300);
        QCOMPARE(toGpqaCsv(train), toGpqaCsv(generateGpqaRecords(o, Split::Train, 1500)));
        std::set<std::string> trainQuestions;
        for (const GpqaRecord &r : train)
            QVERIFY(trainQuestions.insert(r.question).second);
        for (const GpqaRecord &r : test)
            QVERIFY(!trainQuestions.count(r.question));

        std::set<std::string> subdomains;
        int goldAt[4] = {0, 0, 0, 0};
        for (const GpqaRecord &r : train) {
            QCOMPARE(r.choices[r.goldIndex], r.correctAnswer);
            const std::set<std::string> distinct(r.choices.begin(), r.choices.end());
            QVERIFY2(distinct.size() == 4, r.question.c_str());
            for (const std::string &c : r.choices)
                QVERIFY2(!c.empty() && c.find("nan") == std::string::npos
                             && c.find("inf") == std::string::npos,
                         r.question.c_str());
            QVERIFY(!r.explanation.empty());
            // The explanation ends with the right answer.
            QVERIFY2(r.explanation.find(r.correctAnswer + ".") != std::string::npos,
                     (r.explanation + " | " + r.correctAnswer).c_str());
            subdomains.insert(r.subdomain);
            ++goldAt[r.goldIndex];
            // A CoT target built from the record is read back as the gold letter.
            QCOMPARE(checkGpqaAnswer(gpqaTarget(r, PromptFormat::GpqaCot), r,
                                     PromptFormat::GpqaCot).strictCorrect,
                     true);
        }
        QCOMPARE(subdomains, (std::set<std::string>{"Units", "Physics", "Chemistry"}));
        for (int c : goldAt)
            QVERIFY(c > 250); // expected 375 each

        // The CSV round trip gives back the same records and choice order.
        const auto again = parseGpqaCsv(toGpqaCsv(test), "synth.csv", o.seed);
        QCOMPARE(again.size(), test.size());
        for (size_t i = 0; i < test.size(); ++i) {
            QCOMPARE(again[i].id, test[i].id);
            QCOMPARE(again[i].question, test[i].question);
            QCOMPARE(again[i].choices, test[i].choices);
            QCOMPARE(again[i].goldIndex, test[i].goldIndex);
        }
    }

    void gpqaWorkedResultsAreExact()
    {
        // Re-derives the answer of the kinds whose values were chosen to come out exact (textbook
        // style), from the numbers in the question alone.
        GpqaGeneratorOptions o;
        int kinetic = 0, toMps = 0, toKmh = 0, sixty = 0;
        for (const GpqaRecord &r : generateGpqaRecords(o, Split::Train, 3000)) {
            double a = 0, b = 0;
            char from[16] = {}, to[16] = {};
            const std::string why = r.question + " | " + r.correctAnswer;
            if (std::sscanf(r.question.c_str(), "What is the kinetic energy of a %lf kg object "
                                                "moving at %lf m/s?", &a, &b) == 2) {
                const double energy = 0.5 * a * b * b;
                QVERIFY2(energy == std::floor(energy) && energy <= 1000, why.c_str());
                QCOMPARE(r.correctAnswer, formatQuantity(energy) + " J");
                ++kinetic;
            } else if (std::sscanf(r.question.c_str(), "Convert %lf %15s to %15[^.].", &a, from, to)
                       == 3) {
                const std::string f(from), t(to);
                if (f == "km/h" && t == "m/s") {
                    QVERIFY2(std::fmod(a, 18) == 0, why.c_str());
                    QCOMPARE(r.correctAnswer, formatQuantity(a / 18 * 5) + " m/s");
                    ++toMps;
                } else if (f == "m/s" && t == "km/h") {
                    QVERIFY2(std::fmod(a, 5) == 0, why.c_str());
                    QCOMPARE(r.correctAnswer, formatQuantity(a / 5 * 18) + " km/h");
                    ++toKmh;
                } else if (t == "min" || (f == "min" && t == "s")) {
                    QVERIFY2(a == std::floor(a), why.c_str());
                    QCOMPARE(r.correctAnswer, formatQuantity(a * 60) + " " + t);
                    ++sixty;
                }
            }
        }
        // Each kind is drawn often enough to have been checked (1/12 and 1/14 of the kinds).
        QVERIFY(kinetic > 50 && toMps > 5 && toKmh > 5 && sixty > 20);
    }
};

QTEST_GUILESS_MAIN(TestGenerators)
#include "tst_generators.moc"
