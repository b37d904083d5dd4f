// The GRPO objective (train/grpo_loss.h) against numbers worked out by hand from TRL's
// definitions: advantages of small groups, the k3 KL, each loss aggregation on a two-sequence
// batch of different lengths, and which tokens the clipping silences.
// ctest-labels: slow
#include "grpo_probe.h"
#include "support/error_of.h"
#include "support/test_support.h"
#include "train/rewards.h"
#include "util/error.h"

#include <QtTest>

#include <cmath>

using qb::AdvantageScale;
using qb::LossType;

namespace {

constexpr double kTol = 1e-5;

// The hand batch: B = 2, T = 3, G = 2, old logps -1. Sequence 0 (reward 1) has ratios 1.1, 1.5,
// 0.5 on three tokens; sequence 1 (reward 0) has ratio 0.5 on its one token and two padding
// tokens with ratio 3 that must not count.
struct HandBatch
{
    std::vector<float> old = std::vector<float>(6, -1.0f);
    std::vector<float> policy{float(-1 + std::log(1.1)), float(-1 + std::log(1.5)),
                              float(-1 + std::log(0.5)), float(-1 + std::log(0.5)),
                              float(-1 + std::log(3.0)), float(-1 + std::log(3.0))};
    std::vector<float> mask{1, 1, 1, 1, 0, 0};
    std::vector<float> rewards{1, 0};
};

qbprobe::GrpoRun runHand(LossType loss, int64_t maxLength = 0)
{
    HandBatch h;
    qb::GrpoConfig c;
    c.loss = loss;
    c.scale = AdvantageScale::None; // A = +0.5, -0.5
    c.groupSize = 2;
    c.maxCompletionLength = maxLength;
    return qbprobe::grpoRun(h.policy, h.old, {}, h.mask, h.rewards, 2, 3, c);
}

} // namespace

class TestGrpo : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void groupAdvantages()
    {
        // mean 0.5, sample std sqrt(1/3) = 0.57735; 0.5 / (0.57735 + 1e-4) = 0.865875
        const auto a = qbprobe::grpoAdvantages({1, 0, 0, 1}, 4, AdvantageScale::Group);
        QCOMPARE(a.size(), size_t(4));
        const float expected[] = {0.865875f, -0.865875f, -0.865875f, 0.865875f};
        for (int i = 0; i < 4; ++i)
            QVERIFY2(std::fabs(a[i] - expected[i]) < kTol, qPrintable(QString::number(a[i])));
    }

    void batchAndNoneAdvantages()
    {
        // Groups {1, 0} and {3, 1}: centred 0.5, -0.5, 1, -1.
        // Group: stds 0.707107 and 1.414214 -> 0.707007, -0.707007, 0.707057, -0.707057.
        // Batch: std of {1, 0, 3, 1} = sqrt(4.75 / 3) = 1.258306 -> 0.397328, ..., 0.794656.
        const std::vector<float> r{1, 0, 3, 1};
        const auto g = qbprobe::grpoAdvantages(r, 2, AdvantageScale::Group);
        const auto b = qbprobe::grpoAdvantages(r, 2, AdvantageScale::Batch);
        const auto n = qbprobe::grpoAdvantages(r, 2, AdvantageScale::None);
        const float eg[] = {0.707007f, -0.707007f, 0.707057f, -0.707057f};
        const float eb[] = {0.397328f, -0.397328f, 0.794656f, -0.794656f};
        const float en[] = {0.5f, -0.5f, 1.0f, -1.0f};
        for (int i = 0; i < 4; ++i) {
            QVERIFY(std::fabs(g[i] - eg[i]) < kTol);
            QVERIFY(std::fabs(b[i] - eb[i]) < kTol);
            QVERIFY(std::fabs(n[i] - en[i]) < kTol);
        }
    }

    void badGroupSizeIsAnError()
    {
        QVERIFY_THROWS_EXCEPTION(qb::Error,
                                 qbprobe::grpoAdvantages({1, 0, 1}, 2, AdvantageScale::Group));
        QVERIFY_THROWS_EXCEPTION(qb::Error,
                                 qbprobe::grpoAdvantages({1, 0}, 1, AdvantageScale::Group));
    }

    void k3OnHandValues()
    {
        // exp(-0.5) + 0.5 - 1 and exp(0.5) - 0.5 - 1; zero when the policies agree.
        QVERIFY(std::fabs(qbprobe::k3(-1.0f, -1.5f) - 0.1065307) < kTol);
        QVERIFY(std::fabs(qbprobe::k3(-1.0f, -0.5f) - 0.1487213) < kTol);
        QVERIFY(std::fabs(qbprobe::k3(-2.0f, -2.0f)) < 1e-7);
    }

    void aggregations()
    {
        // Per-token terms -min(r A, clip(r, 0.8, 1.2) A):
        //   seq 0, A = +0.5: r 1.1 -> -0.55; r 1.5 -> -0.6 (clipped); r 0.5 -> -0.25. Sum -1.4.
        //   seq 1, A = -0.5: r 0.5 -> +0.4 (clipped at 0.8). Sum 0.4.
        // grpo: (-1.4 / 3 + 0.4 / 1) / 2 = -0.0333333; bnpo = dapo: (-1.4 + 0.4) / 4 = -0.25;
        // dr_grpo: -1.0 / (2 * 4) = -0.125 with L = 4, -1.0 / (2 * 3) with L = T = 3.
        QVERIFY(std::fabs(runHand(LossType::Grpo).loss - (-0.0333333)) < kTol);
        QVERIFY(std::fabs(runHand(LossType::Bnpo).loss - (-0.25)) < kTol);
        QVERIFY(std::fabs(runHand(LossType::Dapo).loss - (-0.25)) < kTol);
        QVERIFY(std::fabs(runHand(LossType::DrGrpo, 4).loss - (-0.125)) < kTol);
        QVERIFY(std::fabs(runHand(LossType::DrGrpo).loss - (-1.0 / 6.0)) < kTol);
        // Binding clips: seq 0 token 1 (high) and seq 1 token 0 (low) of 4 completion tokens;
        // seq 0 token 2 has r < 0.8 but A > 0, so the unclipped term is taken.
        const auto r = runHand(LossType::Bnpo);
        QCOMPARE(r.clipFraction, 0.5);
        QCOMPARE(r.clipLow, 0.25);
        QCOMPARE(r.clipHigh, 0.25);
        QCOMPARE(r.meanKl, 0.0);
    }

    void gradientIsZeroWhereClipped()
    {
        // bnpo: d/dlogp of -r A / 4 is -A r / 4: -0.5 * 1.1 / 4 = -0.1375, -0.5 * 0.5 / 4 =
        // -0.0625; zero for the two clipped tokens and the padding.
        const auto r = runHand(LossType::Bnpo);
        const float expected[] = {-0.1375f, 0.0f, -0.0625f, 0.0f, 0.0f, 0.0f};
        for (int i = 0; i < 6; ++i)
            QVERIFY2(std::fabs(r.grad[i] - expected[i]) < kTol,
                     qPrintable(QString("token %1: %2").arg(i).arg(r.grad[i])));
    }

    void paddingValuesAreIgnored()
    {
        // The hand batch with NaN and -inf in sequence 1's padding: same loss, zero gradient there.
        HandBatch h;
        h.policy[4] = std::nanf("");
        h.policy[5] = -INFINITY;
        qb::GrpoConfig c;
        c.loss = LossType::Bnpo;
        c.scale = AdvantageScale::None;
        c.groupSize = 2;
        c.beta = 0.1;
        const std::vector<float> ref(6, -1.0f);
        const auto r = qbprobe::grpoRun(h.policy, h.old, ref, h.mask, h.rewards, 2, 3, c);
        QVERIFY(std::isfinite(r.loss) && std::isfinite(r.meanKl));
        QCOMPARE(r.grad[4], 0.0f);
        QCOMPARE(r.grad[5], 0.0f);
    }

    void klPenalty()
    {
        // Ratio 1 and equal rewards (A = 0): the loss is beta * mean k3 = 0.1 * 0.1276260, and
        // d/dlogp of beta * k3 / 2 is beta * (1 - exp(ref - logp)) / 2.
        qb::GrpoConfig c;
        c.beta = 0.1;
        c.groupSize = 2;
        c.loss = LossType::Bnpo;
        const std::vector<float> p{-1, -1};
        const auto r = qbprobe::grpoRun(p, p, {-1.5f, -0.5f}, {1, 1}, {1, 1}, 2, 1, c);
        QVERIFY(std::fabs(r.meanKl - 0.1276260) < kTol);
        QVERIFY(std::fabs(r.loss - 0.01276260) < kTol);
        QVERIFY(std::fabs(r.grad[0] - 0.1 * (1 - std::exp(-0.5)) / 2) < kTol);
        QVERIFY(std::fabs(r.grad[1] - 0.1 * (1 - std::exp(0.5)) / 2) < kTol);
        // A reference is required once beta > 0.
        QVERIFY_THROWS_EXCEPTION(qb::Error, qbprobe::grpoRun(p, p, {}, {1, 1}, {1, 1}, 2, 1, c));
    }

    void identicalRewardsGiveNoGradient()
    {
        HandBatch h;
        qb::GrpoConfig c;
        c.groupSize = 2;
        for (LossType loss : {LossType::Grpo, LossType::Bnpo, LossType::DrGrpo, LossType::Dapo}) {
            c.loss = loss;
            const auto r = qbprobe::grpoRun(h.policy, h.old, {}, h.mask, {0.7f, 0.7f}, 2, 3, c);
            QCOMPARE(r.advantages[0], 0.0f);
            QCOMPARE(r.advantages[1], 0.0f);
            QCOMPARE(r.loss, 0.0);
            for (float g : r.grad)
                QCOMPARE(std::fabs(g), 0.0f);
        }
    }

    // Reward components on hand-written completions of one GSM-style question (gold 12, reference
    // chain 3 + 4 = 7, 7 + 5 = 12) and one GPQA-style question (gold B).
    void rewardComponentsOnHandWrittenCompletions()
    {
        qb::data::GsmRecord rec{"q", "Tom has 3 apples, gets 4 and then 5 more.",
                                "3 + 4 = 7\n7 + 5 = 12\n#### 12", "12"};
        const auto set = qb::eval::gsmQuestions({rec}, {});
        qb::RewardConfig c; // correctness only
        c.weights = {1.0, 0.5, 1.0, 2.0};
        c.overlongBuffer = 10;
        auto score = [&](const std::string &text, int64_t tokens, bool truncated) {
            return qb::scoreRollout(set, 0, {text, tokens, truncated}, 100, c);
        };
        using P = qb::RewardPart;
        // Right answer, both steps right, short: 1 + 0.5 * 1 + 1 * 0 + 2 * 1.
        auto s = score(" 3 + 4 = 7\n7 + 5 = 12\n#### 12", 20, false);
        QCOMPARE(s.part(P::Correctness), 1.0);
        QCOMPARE(s.part(P::Format), 1.0);
        QCOMPARE(s.part(P::Length), 0.0);
        QCOMPARE(s.part(P::Steps), 1.0);
        QCOMPARE(s.total, 3.5);
        // First step wrong (so the second differs too), wrong answer, answer line present.
        s = score(" 3 + 4 = 8\n8 + 5 = 13\n#### 13", 20, false);
        QCOMPARE(s.part(P::Correctness), 0.0);
        QCOMPARE(s.part(P::Format), 1.0);
        QCOMPARE(s.part(P::Steps), 0.0);
        QCOMPARE(s.total, 0.5);
        // First step right, then a slip; no answer line: 1 of 2 steps.
        s = score(" 3 + 4 = 7\n7 + 5 = 11\nso 11", 20, false);
        QCOMPARE(s.part(P::Format), 0.0);
        QCOMPARE(s.part(P::Steps), 0.5);
        QCOMPARE(s.total, 1.0);
        // Length: 90 tokens is the edge of the safe zone (100 - 10), 95 half-way down, cut off -1.
        QCOMPARE(score("#### 12", 90, false).part(P::Length), 0.0);
        QCOMPARE(score("#### 12", 95, false).part(P::Length), -0.5);
        QCOMPARE(score("#### 12", 100, false).part(P::Length), -1.0);
        QCOMPARE(score("3 + 4 = 7", 100, true).part(P::Length), -1.0);

        qb::data::GpqaRecord g;
        g.id = "g";
        g.question = "Which is a noble gas?";
        g.correctAnswer = "Neon";
        g.incorrectAnswers = {"Iron", "Carbon", "Sodium"};
        g.choices = {"Iron", "Neon", "Carbon", "Sodium"};
        g.goldIndex = 1;
        const auto gs = qb::eval::gpqaQuestions({g}, {});
        const auto right = qb::scoreRollout(gs, 0, {" The answer is (B)", 5, false}, 100, c);
        QCOMPARE(right.part(P::Correctness), 1.0);
        QCOMPARE(right.part(P::Steps), 0.0);
        const auto wrong = qb::scoreRollout(gs, 0, {" The answer is (C)", 5, false}, 100, c);
        QCOMPARE(wrong.part(P::Correctness), 0.0);
    }

    void rewardConfigErrorsNameTheKey()
    {
        const QString unknown = qbtest::errorOf([] {
            qb::RewardConfig::fromJson({{"correctnes", 1.0}}, "rewards");
        });
        QVERIFY2(unknown.contains("rewards") && unknown.contains("'correctnes'"),
                 qPrintable(unknown));
        const QString zero = qbtest::errorOf([] {
            qb::RewardConfig::fromJson({{"correctness", 0.0}}, "rewards");
        });
        QVERIFY2(zero.contains("every reward weight is 0"), qPrintable(zero));
    }

    // A micro run on the INT2 reasoner over 8 training problems: the policy's sampled accuracy
    // on those prompts rises (measured before and after with the same 16 sampling seeds, so the
    // comparison is not step-to-step noise).
    void microRunRaisesReward()
    {
        const auto run = qbprobe::runGrpoMicro(16, 5e-4, 0.0, -1, "", true, 8);
        QVERIFY2(run.error.empty(), run.error.c_str());
        QCOMPARE(run.rewards.size(), size_t(16));
        qInfo("sampled accuracy on the training prompts: %.3f -> %.3f", run.before, run.after);
        QVERIFY2(run.after > run.before + 0.05,
                 qPrintable(QString("before %1, after %2").arg(run.before).arg(run.after)));
    }

    // Cancelled at step 3 (its last checkpoint is step 2), then resumed: the same adapters as an
    // uninterrupted run, bit for bit; with beta > 0 the KL to the starting adapters is reported
    // and is 0 at the first step (policy = reference).
    void resumeReachesTheSameAdapters()
    {
        const auto straight = qbprobe::runGrpoMicro(4, 1e-3, 0.05, -1, "", false);
        QVERIFY2(straight.error.empty(), straight.error.c_str());
        QCOMPARE(straight.kl.front(), 0.0);
        QVERIFY(straight.kl.back() > 0.0);
        const auto dir = qbtest::makeTempDir("grpo-resume");
        const auto first = qbprobe::runGrpoMicro(4, 1e-3, 0.05, 3, dir.string(), false);
        QCOMPARE(first.error, std::string("cancelled"));
        const auto resumed = qbprobe::runGrpoMicro(4, 1e-3, 0.05, -1, dir.string(), false);
        QVERIFY2(resumed.error.empty(), resumed.error.c_str());
        QCOMPARE(resumed.rewards.size(), size_t(2)); // steps 2 and 3 only
        QCOMPARE(resumed.adapters.size(), straight.adapters.size());
        QVERIFY(resumed.adapters == straight.adapters);
    }
};

QTEST_APPLESS_MAIN(TestGrpo)
#include "tst_grpo.moc"
