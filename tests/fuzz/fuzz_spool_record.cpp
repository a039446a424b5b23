// The spool record reader: any segment file's bytes are read into frames
// that lie inside it, in order, and records that decode or are refused with
// EngineError; nothing else may escape.

#include "db/EngineError.h"
#include "db/spool/SpoolFile.h"
#include "db/spool/SpoolRecord.h"

#include <cstdlib>

using namespace calltrack;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    for (const bool atEnd : {true, false}) {
        const auto scan = db::SpoolFile::scan(bytes, 100, atEnd, 64);
        uint64_t last = 100;
        for (const auto& f : scan.frames) {
            if (f.offset < last || f.end > 100 + size || f.end <= f.offset) std::abort();
            last = f.end;
            try {
                const auto r = db::SpoolRecord::decode(f.payload);
                // What decodes encodes to a record that decodes the same.
                if (db::SpoolRecord::decode(db::SpoolRecord::encode(r)).key != r.key) std::abort();
            } catch (const db::EngineError&) {
            }
        }
        if (scan.end > 100 + size || scan.end < last) std::abort();
    }
    try {
        (void)db::SpoolRecord::decode(bytes);
    } catch (const db::EngineError&) {
    }
    return 0;
}
