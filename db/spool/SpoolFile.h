#pragma once
// The spool's on-disk record format. A segment file is a sequence of frames:
//
//   "CTS1" | payload length (u32 LE) | CRC-32 of the payload (u32 LE) | payload
//
// A frame is only ever appended whole by the one process that owns the
// segment, then fsynced; so after a crash only the last frame can be torn.
// scan() stops at a torn tail (a frame that runs past the end of the bytes it
// was given) and reports it; a damaged frame with good frames after it (a
// disk error, an operator's edit) is skipped up to the next frame that
// checks out, and reported: nothing after a good frame is lost.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace calltrack::db::SpoolFile {

inline constexpr uint32_t kMaxPayload = 1024 * 1024;
inline constexpr size_t kHeaderBytes = 12;

std::string frame(std::string_view payload);

struct Frame {
    uint64_t offset = 0;  // of its header, in the file
    uint64_t end = 0;     // just after its payload
    std::string payload;
};

struct Scan {
    std::vector<Frame> frames;
    uint64_t end = 0;            // where a later scan should resume
    uint64_t corruptBytes = 0;   // skipped between good frames
    int corruptRegions = 0;      // damaged stretches skipped
    uint64_t tornTailBytes = 0;  // at the end: an incomplete last frame
};

// Frames in `bytes`, which start at file offset `base`. `atFileEnd`: the
// bytes run to the end of the file (an incomplete frame there is a torn tail;
// otherwise it is just cut off by the read and left for the next scan). At
// most maxFrames frames.
Scan scan(std::string_view bytes, uint64_t base, bool atFileEnd, size_t maxFrames);

}  // namespace calltrack::db::SpoolFile
