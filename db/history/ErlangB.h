#pragma once
// Erlang B: the probability that a call offered to m lines finds them all
// busy (and is refused), for offered traffic A in Erlangs. Computed with the
// recurrence B(A,0) = 1, B(A,m) = A·B(A,m−1) / (m + A·B(A,m−1)), which stays
// in [0, 1] at every step: no factorials, no powers, no overflow at any m.

#include <cstdint>

namespace calltrack::db {

class ErlangB {
  public:
    // Largest inputs accepted (validate first): a million lines, a million
    // Erlangs. trafficFor costs O(lines) per bisection step (about 45).
    static constexpr int64_t kMaxLines = 1'000'000;
    static constexpr double kMaxErlangs = 1'000'000.0;

    static double blocking(double erlangs, int64_t lines);
    // The fewest lines whose blocking is at most `target` (0 < target < 1).
    static int64_t linesFor(double erlangs, double target);
    // The most traffic `lines` carry at blocking `target` (to a relative 1e-12).
    static double trafficFor(int64_t lines, double target);
};

}  // namespace calltrack::db
