#include "db/IsoTime.h"

#include <algorithm>
#include <chrono>
#include <ctime>

namespace calltrack::db {

namespace {
char* putDigits(char* at, int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i) {
        at[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
    return at + width;
}
}  // namespace

IsoTimeText isoTimeText(int64_t ms) {
    using namespace std::chrono;
    // Years 0000..9999 only: a time outside them (an operator's shell edit,
    // say) is shown clamped rather than overflowing the calendar arithmetic.
    constexpr int64_t kFirst = -62167219200000;  // 0000-01-01T00:00:00.000Z
    constexpr int64_t kLast = 253402300799999;   // 9999-12-31T23:59:59.999Z
    const sys_time<milliseconds> t{milliseconds{std::clamp(ms, kFirst, kLast)}};
    const auto day = floor<days>(t);
    const year_month_day date{day};
    const hh_mm_ss clock{t - day};
    IsoTimeText out;
    char* at = out.data;
    at = putDigits(at, static_cast<int>(date.year()), 4);
    *at++ = '-';
    at = putDigits(at, static_cast<unsigned>(date.month()), 2);
    *at++ = '-';
    at = putDigits(at, static_cast<unsigned>(date.day()), 2);
    *at++ = 'T';
    at = putDigits(at, clock.hours().count(), 2);
    *at++ = ':';
    at = putDigits(at, clock.minutes().count(), 2);
    *at++ = ':';
    at = putDigits(at, clock.seconds().count(), 2);
    *at++ = '.';
    at = putDigits(at, clock.subseconds().count(), 3);
    *at++ = 'Z';
    out.size = static_cast<size_t>(at - out.data);
    return out;
}

std::string isoTime(int64_t ms) {
    return std::string(isoTimeText(ms).view());
}

std::optional<int64_t> parseIsoTime(std::string_view text) {
    auto digits = [&](size_t pos, size_t count, int& out) {
        if (pos + count > text.size()) return false;
        out = 0;
        for (size_t i = pos; i < pos + count; ++i) {
            if (text[i] < '0' || text[i] > '9') return false;
            out = out * 10 + (text[i] - '0');
        }
        return true;
    };
    int year, month, day, hour, minute, second;
    if (!digits(0, 4, year) || text.size() < 20 || text[4] != '-' || !digits(5, 2, month) ||
        text[7] != '-' || !digits(8, 2, day) || (text[10] != 'T' && text[10] != 't') ||
        !digits(11, 2, hour) || text[13] != ':' || !digits(14, 2, minute) || text[16] != ':' ||
        !digits(17, 2, second)) {
        return std::nullopt;
    }
    size_t pos = 19;
    int millis = 0;
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        int scale = 100, seen = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            millis += (text[pos] - '0') * scale;
            scale /= 10;
            ++pos;
            ++seen;
        }
        if (seen == 0) return std::nullopt;
    }
    if (pos + 1 != text.size() || (text[pos] != 'Z' && text[pos] != 'z')) return std::nullopt;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
        return std::nullopt;
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return static_cast<int64_t>(timegm(&tm)) * 1000 + millis;
}

}  // namespace calltrack::db
