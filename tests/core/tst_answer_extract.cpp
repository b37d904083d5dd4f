// Answer extraction and step scoring against hand-written completions. Expected values follow
// lm-eval's filters read by hand: gsm8k strict "#### (-?[0-9.,]+)", gsm8k_cot strict
// "The answer is (-?[0-9.,]+).", flexible "(-?[$0-9.,]{2,})|(-?[0-9]+)" last match, then the
// exact_match cleanup (drop ',', '$', a trailing '.').
#include "data/answer_extract.h"
#include "data/steps.h"

#include <QtTest>

using namespace qb::data;

namespace {

std::string answerOf(const Extraction &e) { return e.parsed ? e.answer : "<unparsed>"; }

} // namespace

class TestAnswerExtract : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void gsmStrict()
    {
        QCOMPARE(answerOf(extractGsmStrict(" Natalia sold 48/2 = <<48/2=24>>24 clips.\n#### 72")),
                 std::string("72"));
        QCOMPARE(answerOf(extractGsmStrict("#### 1,234\n")), std::string("1234"));
        QCOMPARE(answerOf(extractGsmStrict("so -5\n#### -5")), std::string("-5"));
        QCOMPARE(answerOf(extractGsmStrict("#### 18.")), std::string("18"));
        QCOMPARE(answerOf(extractGsmStrict("#### 2.5")), std::string("2.5"));
        // The first marker wins, as lm-eval's take_first of the first match.
        QCOMPARE(answerOf(extractGsmStrict("#### 3\n#### 4")), std::string("3"));
        // '$' is not in the strict group: "#### $18" does not match.
        QCOMPARE(answerOf(extractGsmStrict("#### $18")), std::string("<unparsed>"));
        QCOMPARE(answerOf(extractGsmStrict("The answer is 18")), std::string("<unparsed>"));
        QCOMPARE(answerOf(extractGsmStrict("####18")), std::string("<unparsed>"));
        QCOMPARE(answerOf(extractGsmStrict("")), std::string("<unparsed>"));
        // A marker without a number is skipped for the next one.
        QCOMPARE(answerOf(extractGsmStrict("#### none\n#### 9")), std::string("9"));
    }

    void gsmCotStrict()
    {
        QCOMPARE(answerOf(extractGsmCotStrict(
                     " After losing 2 more, he had 35 - 2 = 33 golf balls. The answer is 33.")),
                 std::string("33"));
        QCOMPARE(answerOf(extractGsmCotStrict("The answer is 1,000.\n\n")), std::string("1000"));
        QCOMPARE(answerOf(extractGsmCotStrict("The answer is -4 apples.")), std::string("-4"));
        // At the very end of the text: we read 33 (lm-eval's pattern would read "3").
        QCOMPARE(answerOf(extractGsmCotStrict("The answer is 33")), std::string("33"));
        // Case-sensitive like lm-eval.
        QCOMPARE(answerOf(extractGsmCotStrict("the answer is 5.")), std::string("<unparsed>"));
        QCOMPARE(answerOf(extractGsmCotStrict("#### 5")), std::string("<unparsed>"));
    }

    void gsmFlexible()
    {
        QCOMPARE(answerOf(extractGsmFlexible(
                     "He has 12 + 7 = 19 apples.\nThen he has 19 - 5 = 14 apples.")),
                 std::string("14"));
        QCOMPARE(answerOf(extractGsmFlexible("The total is $1,234.50.")), std::string("1234.50"));
        QCOMPARE(answerOf(extractGsmFlexible("I think -7")), std::string("-7"));
        QCOMPARE(answerOf(extractGsmFlexible("answer 5.")), std::string("5"));
        QCOMPARE(answerOf(extractGsmFlexible("answer: 5")), std::string("5"));
        QCOMPARE(answerOf(extractGsmFlexible("#### 72")), std::string("72"));
        QCOMPARE(answerOf(extractGsmFlexible("It costs $18 each")), std::string("18"));
        QCOMPARE(answerOf(extractGsmFlexible("no numbers here")), std::string("<unparsed>"));
        // The last lm-eval match is "..." (three wide characters), not a number: unparsed,
        // where lm-eval would compare ".." with the gold and score it wrong.
        QCOMPARE(answerOf(extractGsmFlexible("x = 3. Done...")), std::string("<unparsed>"));
        // A lone '-' is not a number; "-" then "5" gives "-5" through the second alternative.
        QCOMPARE(answerOf(extractGsmFlexible("5 - 6 = -1")), std::string("-1"));
    }

    void gsmCheck()
    {
        AnswerCheck c = checkGsmAnswer("Then he has 19 - 5 = 14 apples.\n#### 14", "14",
                                       PromptFormat::Gsm8k);
        QVERIFY(c.strictCorrect && c.flexibleCorrect);
        c = checkGsmAnswer("She has 3 + 4 = 7 left. The answer is 7.", "7", PromptFormat::Gsm8kCot);
        QVERIFY(c.strictCorrect && c.flexibleCorrect);
        // Strict fails (no marker), flexible reads the last number, which is wrong.
        c = checkGsmAnswer("He has 12 + 7 = 19 apples", "20", PromptFormat::Gsm8k);
        QVERIFY(!c.strict.parsed && !c.strictCorrect);
        QVERIFY(c.flexible.parsed && !c.flexibleCorrect);
        // Gold given with commas still compares.
        c = checkGsmAnswer("#### 1234", "1,234", PromptFormat::Gsm8k);
        QVERIFY(c.strictCorrect);
    }

    void gpqaLetters()
    {
        const std::array<std::string, 4> choices = {"5 km", "0.5 km", "50 km/h", "2 A"};
        auto cot = [&](const char *text) {
            return answerOf(extractGpqa(text, choices, PromptFormat::GpqaCot));
        };
        QCOMPARE(cot("distance = 5 km. The answer is (B)."), std::string("B"));
        QCOMPARE(cot("So the answer is C"), std::string("C"));
        QCOMPARE(cot("(A) is wrong, and (C) is right"), std::string("C"));
        QCOMPARE(cot("Reasoning...\nAnswer: D"), std::string("D"));
        QCOMPARE(cot("answer: (A)"), std::string("A"));
        // Choice text, whole words: "0.5 km" must not also match "5 km".
        QCOMPARE(cot("It must be 0.5 km overall"), std::string("B"));
        QCOMPARE(cot("It must be 5 km overall"), std::string("A"));
        QCOMPARE(cot("It moves at 50 km/h!"), std::string("C"));
        // "Because" is a word, not a letter; (E) is not a choice.
        QCOMPARE(cot("Because of (E) nothing"), std::string("<unparsed>"));
        QCOMPARE(cot(""), std::string("<unparsed>"));

        auto zero = [&](const char *text) {
            return answerOf(extractGpqa(text, choices, PromptFormat::GpqaZeroShot));
        };
        QCOMPARE(zero(" (B) 0.5 km\n"), std::string("B"));
        QCOMPARE(zero(" D."), std::string("D"));
        // The opening letter wins over a later "(A)" in zero-shot.
        QCOMPARE(zero(" (C) because (A) is too slow"), std::string("C"));

        QCOMPARE(answerOf(extractGpqaStrict("The answer is (B).", PromptFormat::GpqaCot)),
                 std::string("B"));
        QCOMPARE(answerOf(extractGpqaStrict("(B)", PromptFormat::GpqaCot)),
                 std::string("<unparsed>"));
    }

    void gpqaCheck()
    {
        GpqaRecord r;
        r.choices = {"1", "2", "3", "4"};
        r.goldIndex = 2;
        AnswerCheck c = checkGpqaAnswer("Let me see. The answer is (C).", r, PromptFormat::GpqaCot);
        QVERIFY(c.strictCorrect && c.flexibleCorrect);
        c = checkGpqaAnswer("I pick (A)", r, PromptFormat::GpqaCot);
        QVERIFY(!c.strict.parsed && c.flexible.parsed && !c.flexibleCorrect);
    }

    void thinkingIsSetAsideBeforeExtraction()
    {
        // The thinking holds a "#### 5" and numbers; only the text after </think> is read.
        const std::string think = "<think>Maybe 2 + 2 = 5?\n#### 5\nNo: 2 + 2 = 4.</think>";
        AnswerCheck c = checkGsmAnswer(think + "\nSo 2 + 2 = 4.\n#### 4", "4",
                                       PromptFormat::Gsm8k);
        QVERIFY(c.strictCorrect && c.flexibleCorrect);
        QCOMPARE(c.thinkChars, int64_t(think.size()));
        // Templates that open <think> in the prompt leave only the closing tag; the last one wins.
        c = checkGsmAnswer("2 + 2 = 5</think> hm, 4</think>\n#### 4", "4", PromptFormat::Gsm8k);
        QVERIFY(c.strictCorrect);
        QCOMPARE(c.thinkChars, int64_t(std::string("2 + 2 = 5</think> hm, 4</think>").size()));
        // Thinking cut off by the token limit: no answer, whatever numbers it held.
        c = checkGsmAnswer("<think>2 + 2 = 4\n#### 4", "4", PromptFormat::Gsm8k);
        QVERIFY(!c.strict.parsed && !c.flexible.parsed);
        QCOMPARE(c.thinkChars, int64_t(std::string("<think>2 + 2 = 4\n#### 4").size()));
        // No thinking: unchanged, -1.
        c = checkGsmAnswer("2 + 2 = 4\n#### 4", "4", PromptFormat::Gsm8k);
        QVERIFY(c.strictCorrect);
        QCOMPARE(c.thinkChars, int64_t(-1));
        // GPQA: a letter in the thinking is not the answer.
        GpqaRecord r;
        r.choices = {"1", "2", "3", "4"};
        r.goldIndex = 2;
        c = checkGpqaAnswer("<think>The answer is (A)? No.</think> The answer is (C).", r,
                            PromptFormat::GpqaCot);
        QVERIFY(c.strictCorrect && c.flexibleCorrect);
    }

    void stopSequencesCut()
    {
        QCOMPARE(applyStopSequences("#### 5\n\nQuestion: next", stopSequences(PromptFormat::Gsm8k)),
                 std::string("#### 5\n\n"));
        QCOMPARE(applyStopSequences("x Q: y </s>", stopSequences(PromptFormat::Gsm8kCot)),
                 std::string("x "));
        QCOMPARE(applyStopSequences("no stop", {"Z"}), std::string("no stop"));
    }

    void stepEquations()
    {
        // Real GSM8K text: annotations removed; the chain "16 - 3 - 4 = 9" is not a binary step.
        auto steps = stepResults("Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n"
                                 "She makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18");
        QCOMPARE(steps.size(), size_t(1));
        QVERIFY((steps[0] == GsmStep{9, '*', 2, 18}));

        steps = stepResults("48/2 = <<48/2=24>>24 and 5 x 3 = 15, 3 \xC3\x97 4 = 12; "
                            "1,200 + 300 = 1,500. Also 2.5 * 4 = 10.");
        QCOMPARE(steps.size(), size_t(5));
        QVERIFY((steps[0] == GsmStep{48, '/', 2, 24}));
        QVERIFY((steps[1] == GsmStep{5, '*', 3, 15}));
        QVERIFY((steps[2] == GsmStep{3, '*', 4, 12}));
        QVERIFY((steps[3] == GsmStep{1200, '+', 300, 1500}));
        QVERIFY((steps[4] == GsmStep{2.5, '*', 4, 10}));
        for (const GsmStep &s : steps)
            QVERIFY(s.holds());
        QVERIFY(!(GsmStep{19, '-', 5, 15}.holds()));
        QVERIFY(!(GsmStep{1, '/', 0, 0}.holds()));
        QVERIFY(stepResults("no equations, 3 apples = fruit").empty());
    }

    void stepScores()
    {
        const std::vector<GsmStep> gold = {{12, '+', 7, 19}, {19, '-', 5, 14}, {14, '*', 2, 28}};
        // Second step slips (15), the third is computed right on the wrong value.
        StepScore s = scoreSteps("Tom has 12 + 7 = 19 apples.\nThen he has 19 - 5 = 15 apples.\n"
                                 "Then he has 15 * 2 = 30 apples.\n#### 30",
                                 gold);
        QCOMPARE(s.goldSteps, 3);
        QCOMPARE(s.written, 3);
        QCOMPARE(s.matched, 1);
        QCOMPARE(s.arithmetic, 2);
        QCOMPARE(s.fraction(), 1.0 / 3.0);
        s = scoreSteps("12 + 7 = 19. 19 - 5 = 14. 14 * 2 = 28.", gold);
        QCOMPARE(s.matched, 3);
        QCOMPARE(s.fraction(), 1.0);
        s = scoreSteps("I don't know", gold);
        QCOMPARE(s.matched, 0);
        QCOMPARE(s.written, 0);
        QCOMPARE(scoreSteps("1 + 1 = 2", {}).fraction(), 0.0);
    }
};

QTEST_GUILESS_MAIN(TestAnswerExtract)
#include "tst_answer_extract.moc"
