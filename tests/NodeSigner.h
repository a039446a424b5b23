#pragma once
// Webhook signatures from the providers' own npm packages (tests/npm/sign.mjs:
// twilio's getExpectedTwilioSignature, standardwebhooks' Webhook.sign), so
// our verification is never checked against our own signing code.

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace calltrack::test {

class NodeSigner {
  public:
    // Signs a batch (one node start for all of them); see sign.mjs for the
    // request format. Throws when node or the npm packages are missing.
    static std::vector<std::string> sign(const nlohmann::json& requests) {
        const std::string dir = std::string(CALLTRACK_SOURCE_DIR) + "/tests/npm";
        if (!std::filesystem::exists(dir + "/node_modules/twilio")) {
            throw std::runtime_error(
                "tests/npm/node_modules is missing: run npm ci --prefix tests/npm");
        }
        const auto input =
            std::filesystem::temp_directory_path() /
            ("calltrack-sign-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
        std::ofstream(input) << requests.dump();
        const std::string command = "node " + dir + "/sign.mjs < " + input.string();
        std::string out;
        if (FILE* pipe = ::popen(command.c_str(), "r")) {
            char buf[4096];
            size_t n;
            while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
            const int status = ::pclose(pipe);
            std::filesystem::remove(input);
            if (status != 0) throw std::runtime_error("sign.mjs failed: " + out);
        }
        return nlohmann::json::parse(out).get<std::vector<std::string>>();
    }

  private:
    static int& counter() {
        static int n = 0;
        return n;
    }
};

}  // namespace calltrack::test
