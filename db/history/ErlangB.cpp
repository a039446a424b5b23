#include "db/history/ErlangB.h"

#include <algorithm>

namespace calltrack::db {

double ErlangB::blocking(double erlangs, int64_t lines) {
    if (erlangs <= 0) return lines == 0 ? 1.0 : 0.0;
    double b = 1.0;
    for (int64_t m = 1; m <= lines; ++m) b = erlangs * b / (static_cast<double>(m) + erlangs * b);
    return b;
}

int64_t ErlangB::linesFor(double erlangs, double target) {
    if (erlangs <= 0) return 0;
    double b = 1.0;
    int64_t m = 0;
    while (b > target && m < kMaxLines) {
        ++m;
        b = erlangs * b / (static_cast<double>(m) + erlangs * b);
    }
    return m;
}

double ErlangB::trafficFor(int64_t lines, double target) {
    if (lines <= 0) return 0.0;
    // B rises with A; m lines at any blocking below 1 carry less than m / (1 - target) + m.
    double lo = 0.0;
    double hi = static_cast<double>(lines) / std::max(1e-12, 1.0 - target) + 10.0;
    for (int i = 0; i < 100 && hi - lo > 1e-12 * hi; ++i) {
        const double mid = (lo + hi) / 2;
        (blocking(mid, lines) <= target ? lo : hi) = mid;
    }
    return lo;
}

}  // namespace calltrack::db
