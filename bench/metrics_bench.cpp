// What a request's metrics cost: ProcessMetrics::observeRequest (a
// shared-lock lookup of the route's series, a counter and a histogram
// observation), from 1 and 8 threads on the same route, as HttpServer calls
// it once per request. Prints Markdown for docs/PERFORMANCE.md.
//
// Usage: metrics_bench [--calls N]

#include "api/metrics/ProcessMetrics.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace calltrack;
using Steady = std::chrono::steady_clock;

int main(int argc, char** argv) {
    long calls = 2'000'000;
    for (int i = 1; i + 1 < argc; i += 2)
        if (!std::strcmp(argv[i], "--calls")) calls = std::atol(argv[i + 1]);
    api::ProcessMetrics metrics("bench");
    const std::string route = "POST /v1/calls";
    std::printf("| threads | ns per observed request (wall, per thread) |\n|---:|---:|\n");
    for (const int threads : {1, 8}) {
        const auto start = Steady::now();
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&] {
                for (long i = 0; i < calls / threads; ++i)
                    metrics.observeRequest(route, i % 8 == 0 ? 429 : 201, 0.002);
            });
        for (auto& p : pool) p.join();
        const double ns = std::chrono::duration<double, std::nano>(Steady::now() - start).count() *
                          threads / static_cast<double>(calls);
        std::printf("| %d | %.0f |\n", threads, ns);
    }
    return 0;
}
