// POST /v1/calls:batch against the same items sent as sequential single
// requests, on one keep-alive connection, alternating rounds (issue 3, §8).
// Usage: http_batch_bench PORT TOKEN [ROUNDS] [ITEMS]

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: http_batch_bench PORT TOKEN [ROUNDS] [ITEMS]\n");
        return 2;
    }
    const int port = std::atoi(argv[1]);
    const std::string token = argv[2];
    const int rounds = argc > 3 ? std::atoi(argv[3]) : 5;
    const int items = argc > 4 ? std::atoi(argv[4]) : 500;
    httplib::Client client("127.0.0.1", port);
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);  // else each request waits out Nagle + delayed ACK
    client.set_bearer_token_auth(token);
    std::vector<double> batchMs, sequentialMs;
    int serial = 0;
    for (int round = 0; round < rounds; ++round) {
        nlohmann::json list = nlohmann::json::array();
        for (int i = 0; i < items; ++i) {
            list.push_back({{"op", "admit"},
                            {"client_id", "bench"},
                            {"external_id", "b" + std::to_string(serial++)}});
        }
        auto t0 = Clock::now();
        auto res = client.Post("/v1/calls:batch", nlohmann::json{{"items", list}}.dump(),
                               "application/json");
        if (!res || res->status != 200) return 1;
        batchMs.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());

        t0 = Clock::now();
        for (int i = 0; i < items; ++i) {
            nlohmann::json one = {{"client_id", "bench"},
                                  {"external_id", "s" + std::to_string(serial++)}};
            auto r = client.Post("/v1/calls", one.dump(), "application/json");
            if (!r || r->status != 201) return 1;
        }
        sequentialMs.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    std::sort(batchMs.begin(), batchMs.end());
    std::sort(sequentialMs.begin(), sequentialMs.end());
    const double b = batchMs[batchMs.size() / 2], s = sequentialMs[sequentialMs.size() / 2];
    std::printf(
        "| %d admissions | batch: %.1f ms (%.0f/s) | sequential: %.1f ms (%.0f/s) | batch "
        "speed-up: %.1fx |\n",
        items, b, items * 1000.0 / b, s, items * 1000.0 / s, s / b);
    return 0;
}
