#include "db/TextRules.h"

#include "db/EngineError.h"

namespace calltrack::db {

void TextRules::requireIdentifier(const std::string& id, const char* field) {
    bool ok = !id.empty() && id.size() <= 64;
    for (char ch : id) {
        const bool allowed = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                             (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == ':' ||
                             ch == '-';
        ok = ok && allowed;
    }
    if (!ok) {
        throw EngineError(
            ErrorCode::invalid_argument,
            std::string(field) + " must be 1 to 64 characters of A-Z a-z 0-9 . _ : -");
    }
}

void TextRules::requireClientId(const std::string& id) {
    requireIdentifier(id, "client_id");
}

void TextRules::requireExternalId(const std::string& id) {
    bool ok = !id.empty() && id.size() <= 128;
    for (unsigned char ch : id) ok = ok && ch >= 0x20 && ch != 0x7F;
    if (!ok) {
        throw EngineError(ErrorCode::invalid_argument,
                          "external_id must be 1 to 128 characters without control characters");
    }
}

}  // namespace calltrack::db
