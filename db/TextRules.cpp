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

void TextRules::requireHttpUrl(const std::string& url, const char* field) {
    bool ok = false;
    for (const char* scheme : {"http://", "https://"}) {
        const std::string_view prefix(scheme);
        if (url.size() > prefix.size() && url.compare(0, prefix.size(), prefix) == 0) ok = true;
    }
    ok = ok && url.size() >= 8 && url.size() <= 2048;
    for (unsigned char ch : url) ok = ok && ch > 0x20 && ch < 0x7F;
    if (!ok) {
        throw EngineError(ErrorCode::invalid_argument,
                          std::string(field) +
                              " must be an http:// or https:// URL of at most 2048 characters "
                              "without spaces");
    }
}

}  // namespace calltrack::db
