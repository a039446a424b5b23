#include "db/spool/SpoolFile.h"

#include <zlib.h>

#include <cstring>

namespace calltrack::db::SpoolFile {

namespace {

constexpr char kMagic[4] = {'C', 'T', 'S', '1'};

void putU32(std::string& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t getU32(const char* p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

uint32_t crcOf(std::string_view payload) {
    return static_cast<uint32_t>(::crc32(0L, reinterpret_cast<const Bytef*>(payload.data()),
                                         static_cast<uInt>(payload.size())));
}

enum class Check { good, incomplete, bad };

// Whether a good frame starts at `pos`; its payload length in `length`.
Check check(std::string_view bytes, size_t pos, uint32_t& length) {
    const size_t left = bytes.size() - pos;
    if (left < kHeaderBytes) {
        // A header cut short is incomplete only if what there is could be one.
        return std::memcmp(bytes.data() + pos, kMagic, std::min<size_t>(left, 4)) == 0
                   ? Check::incomplete
                   : Check::bad;
    }
    if (std::memcmp(bytes.data() + pos, kMagic, 4) != 0) return Check::bad;
    length = getU32(bytes.data() + pos + 4);
    if (length > kMaxPayload) return Check::bad;
    if (left < kHeaderBytes + length) return Check::incomplete;
    const auto payload = bytes.substr(pos + kHeaderBytes, length);
    return crcOf(payload) == getU32(bytes.data() + pos + 8) ? Check::good : Check::bad;
}

}  // namespace

std::string frame(std::string_view payload) {
    std::string out(kMagic, 4);
    putU32(out, static_cast<uint32_t>(payload.size()));
    putU32(out, crcOf(payload));
    out.append(payload);
    return out;
}

Scan scan(std::string_view bytes, uint64_t base, bool atFileEnd, size_t maxFrames) {
    Scan out;
    size_t pos = 0;
    while (pos < bytes.size() && out.frames.size() < maxFrames) {
        uint32_t length = 0;
        const auto c = check(bytes, pos, length);
        if (c == Check::good) {
            const size_t end = pos + kHeaderBytes + length;
            out.frames.push_back(
                {base + pos, base + end, std::string(bytes.substr(pos + kHeaderBytes, length))});
            pos = end;
            continue;
        }
        if (c == Check::incomplete && !atFileEnd) break;  // the read cut it short; not torn
        // Damaged here (or incomplete at the end of the file): is there a
        // good frame further on? Then this stretch was damage, and skipped.
        size_t next = pos + 1;
        Check found = Check::bad;
        for (; next + 4 <= bytes.size(); ++next) {
            if (std::memcmp(bytes.data() + next, kMagic, 4) != 0) continue;
            uint32_t l = 0;
            found = check(bytes, next, l);
            if (found == Check::good || (found == Check::incomplete && !atFileEnd)) break;
            found = Check::bad;
        }
        if (found != Check::bad) {
            out.corruptBytes += next - pos;
            ++out.corruptRegions;
            pos = next;
            continue;
        }
        if (atFileEnd) {
            out.tornTailBytes = bytes.size() - pos;
            pos = bytes.size();
        } else if (bytes.size() - pos > 3) {
            // Nothing good in what was read: skip it but for a few bytes
            // that may begin the next frame's magic.
            out.corruptBytes += bytes.size() - 3 - pos;
            ++out.corruptRegions;
            pos = bytes.size() - 3;
        }
        break;
    }
    out.end = base + pos;
    return out;
}

}  // namespace calltrack::db::SpoolFile
