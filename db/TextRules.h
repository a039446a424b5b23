#pragma once
// What identifiers may look like. The schema's CHECK constraints say the same;
// checking here first gives the caller a message that names the field.

#include <string>

namespace calltrack::db {

class TextRules {
  public:
    // 1-64 characters from [A-Za-z0-9._:-]; `field` names it in the message
    static void requireIdentifier(const std::string& id, const char* field);
    static void requireClientId(const std::string& id);
    // 1-128 printable characters
    static void requireExternalId(const std::string& id);
    // An absolute http:// or https:// URL, 8-2048 characters, no spaces or
    // control characters (as the schema's CHECKs on URL columns)
    static void requireHttpUrl(const std::string& url, const char* field);
};

}  // namespace calltrack::db
