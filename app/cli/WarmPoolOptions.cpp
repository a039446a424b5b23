#include "app/cli/WarmPoolOptions.h"

#include <charconv>

namespace calltrack::app {

namespace {

// --max-warm takes a count or "none" (no cap but the bots that exist); a
// typo must not silently become "none".
const CLI::Validator kCountOrNone(
    [](std::string& value) -> std::string {
        if (value == "none") return {};
        const bool digits = !value.empty() && value.size() <= 9 &&
                            value.find_first_not_of("0123456789") == std::string::npos;
        return digits ? std::string() : "must be a number >= 0 or none, not '" + value + "'";
    },
    "N|none");

// CLI11's NonNegativeNumber prints its range as a 300-digit double.
CLI::Validator atLeast(int64_t min) {
    return CLI::Validator(
        [min](std::string& value) -> std::string {
            int64_t n = 0;
            const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (ec == std::errc() && end == value.data() + value.size() && n >= min) return {};
            return "must be an integer >= " + std::to_string(min) + ", not '" + value + "'";
        },
        "INT>=" + std::to_string(min));
}

}  // namespace

void WarmPoolOptions::attach(CLI::App* cmd) {
    cmd->add_option("--bots-required", botsRequired,
                    "yes: every admitted call takes a warm bot (refused bot_unavailable without)")
        ->check(CLI::IsMember({"yes", "no"}));
    cmd->add_option("--min-warm", minWarm, "bots kept warm at all times")->check(atLeast(0));
    cmd->add_option("--headroom", headroom, "warm bots above current demand")->check(atLeast(0));
    cmd->add_option("--max-warm", maxWarm, "at most this many warm bots, or none (no cap)")
        ->check(kCountOrNone);
    cmd->add_option("--warm-ttl-s", warmTtlS, "seconds an idle warm bot stays warm")
        ->check(atLeast(1));
    cmd->add_option("--lead-time-s", leadTimeS,
                    "seconds before a scheduled campaign starts that its bots are warm")
        ->check(atLeast(0));
}

void WarmPoolOptions::applyTo(db::ClientPatch& patch) const {
    if (botsRequired) patch.botsRequired = *botsRequired == "yes";
    if (!minWarm && !headroom && !maxWarm && !warmTtlS && !leadTimeS) return;
    db::ClientPatch::WarmPool w;
    w.minWarm = minWarm;
    w.headroom = headroom;
    if (maxWarm) {
        if (*maxWarm == "none")
            w.maxWarm.emplace(std::nullopt);
        else
            w.maxWarm.emplace(std::stoll(*maxWarm));  // digits only (kCountOrNone)
    }
    w.warmTtlS = warmTtlS;
    w.leadTimeS = leadTimeS;
    patch.warmPool = w;
}

void addWarmPoolRows(TextTable& table, const db::Client& client) {
    const auto& w = client.warmPool;
    table.add({"bots_required", client.botsRequired ? "yes" : "no"});
    table.add({"warm_pool.min_warm", std::to_string(w.minWarm)});
    table.add({"warm_pool.headroom", std::to_string(w.headroom)});
    table.add({"warm_pool.max_warm", w.maxWarm ? std::to_string(*w.maxWarm) : "none"});
    table.add({"warm_pool.warm_ttl_s", std::to_string(w.warmTtlS)});
    table.add({"warm_pool.lead_time_s", std::to_string(w.leadTimeS)});
}

}  // namespace calltrack::app
