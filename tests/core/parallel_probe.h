// Std-only bridge from tst_parallel (Qt Test) to torch: the thread count util/parallel.h sizes
// its pool from (at::get_num_threads()).
#pragma once

namespace parallelprobe {

void setThreads(int threads);

} // namespace parallelprobe
