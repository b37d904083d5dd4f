// CUDA fused dequantize-GEMV/GEMM (kernels/cuda_gemv.h) against the CPU reference
// fused_linear_ref for every format: INT8 rows, INT-k groups (k = 2, 3, 4, 8; symmetric,
// asymmetric, real zero points; groups of 32/128 and per channel), NF4/FP4 blocks with plain and
// double-quantized absmax; 1, 3 and 17 activation rows (17: two launches). Skips without CUDA in
// the build or without a device.
// ctest-labels: gpu
#include "kernels/cuda_gemv.h"
#include "kernels/double_quant.h"
#include "kernels/int8_rowwise.h"
#include "kernels/int_group.h"
#include "kernels/nf4.h"

#include "support/test_support.h"

#include <QtTest>

#include <cmath>
#include <string>
#include <vector>

using namespace qb::kernels;

namespace {

// GPU against the reference for m rows: float32 sums in another order than the reference's
// double ones, so within 2e-5 of sum |x w| (one wrong weight moves y by far more).
void check(const FusedWeight &w, const std::string &name)
{
    std::vector<float> eye(static_cast<std::size_t>(w.cols * w.cols), 0.0f);
    for (std::int64_t c = 0; c < w.cols; ++c)
        eye[c * w.cols + c] = 1.0f;
    FusedWeight noBias = w;
    noBias.bias = nullptr;
    std::vector<float> wt(static_cast<std::size_t>(w.cols * w.rows)); // W^T, decoded
    fused_linear_ref(noBias, eye.data(), w.cols, wt.data(), 0, w.rows);
    for (std::int64_t m : {1, 3, 17}) {
        const auto x = qbtest::normalValues(m * w.cols, unsigned(m + w.cols));
        std::vector<float> ref(static_cast<std::size_t>(m * w.rows)), gpu(ref.size());
        fused_linear_ref(w, x.data(), m, ref.data(), 0, w.rows);
        const CudaStatus s = cuda_fused_linear_host(w, x.data(), m, gpu.data());
        QVERIFY2(s.ok(), s.message.c_str());
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t r = 0; r < w.rows; ++r) {
                double mag = 0.0;
                for (std::int64_t c = 0; c < w.cols; ++c)
                    mag += std::fabs(double(x[i * w.cols + c]) * wt[c * w.rows + r]);
                const double got = gpu[i * w.rows + r], want = ref[i * w.rows + r];
                QVERIFY2(std::fabs(got - want) <= 2e-5 * mag + 1e-6,
                         qPrintable(QString("%1 m %2 row %3: %4 vs %5")
                                        .arg(QString::fromStdString(name)).arg(m).arg(r)
                                        .arg(got).arg(want)));
            }
    }
}

} // namespace

class TestCudaGemv : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
#ifndef QB_HAVE_CUDA
        QSKIP("built without CUDA");
#endif
        if (cuda_device_count() == 0)
            QSKIP("no CUDA device");
    }

    void int8Rows()
    {
        const std::int64_t rows = 37, cols = 1000;
        const auto w = qbtest::normalValues(rows * cols, 1, 0.0f, 0.05f);
        std::vector<std::int8_t> q(w.size());
        std::vector<float> scales(rows);
        const auto bias = qbtest::normalValues(rows, 2);
        quantize_int8_rowwise_ref(w.data(), rows, cols, q.data(), scales.data());
        check(fused_weight_int8_row(q.data(), scales.data(), rows, cols, bias.data()), "int8");
    }

    void intGroups()
    {
        const std::int64_t rows = 19, cols = 300;
        const auto w = qbtest::normalValues(rows * cols, 3, 0.0f, 0.05f);
        for (int bits : {2, 3, 4, 8})
            for (int group : {32, 128, 0})
                for (int mode = 0; mode < 3; ++mode) { // sym, asym, asym + zeros_f
                    const IntGroupConfig cfg{bits, group, mode == 0};
                    const std::int64_t groups = int_group_groups_per_row(cfg, cols);
                    std::vector<std::uint8_t> packed(rows * int_group_row_bytes(bits, cols));
                    std::vector<std::uint8_t> zeros(rows * groups);
                    std::vector<float> scales(rows * groups), zerosF(rows * groups);
                    quantize_int_group_ref(w.data(), rows, cols, cfg, packed.data(),
                                           scales.data(), mode == 0 ? nullptr : zeros.data());
                    for (std::size_t k = 0; k < zerosF.size(); ++k)
                        zerosF[k] = float(zeros[k]) + 0.25f;
                    check(fused_weight_int_group(packed.data(), scales.data(),
                                                 mode == 1 ? zeros.data() : nullptr,
                                                 mode == 2 ? zerosF.data() : nullptr, bits, group,
                                                 rows, cols, nullptr),
                          "int" + std::to_string(bits) + " g" + std::to_string(group) + " mode "
                              + std::to_string(mode));
                }
    }

    void blockwise4()
    {
        const std::int64_t rows = 11, cols = 257, n = rows * cols;
        const auto w = qbtest::normalValues(n, 4, 0.0f, 0.05f);
        for (Codebook4 kind : {Codebook4::Nf4, Codebook4::Fp4})
            for (bool dq : {false, true}) {
                std::vector<std::uint8_t> packed(blockwise4_packed_bytes(n));
                std::vector<float> absmax(blockwise4_num_blocks(n, 64));
                quantize_blockwise4_ref(kind, w.data(), n, 64, packed.data(), absmax.data());
                const auto d = double_quantize_absmax_ref(absmax.data(),
                                                          std::int64_t(absmax.size()));
                check(fused_weight_blockwise4(kind, packed.data(), dq ? nullptr : absmax.data(),
                                              dq ? d.codes.data() : nullptr,
                                              dq ? d.scales.data() : nullptr, d.offset, 64, rows,
                                              cols, nullptr),
                      std::string(kind == Codebook4::Nf4 ? "nf4" : "fp4") + (dq ? " dq" : ""));
            }
    }
};

QTEST_APPLESS_MAIN(TestCudaGemv)
#include "tst_cuda_gemv.moc"
