#include "db/calls/CallState.h"

#include <array>
#include <utility>

namespace calltrack::db {

namespace {
constexpr std::array<std::pair<CallState, const char*>, 10> kNames{{
    {CallState::reserved, "reserved"},
    {CallState::initiated, "initiated"},
    {CallState::ringing, "ringing"},
    {CallState::in_progress, "in_progress"},
    {CallState::completed, "completed"},
    {CallState::busy, "busy"},
    {CallState::failed, "failed"},
    {CallState::no_answer, "no_answer"},
    {CallState::canceled, "canceled"},
    {CallState::timed_out, "timed_out"},
}};
}  // namespace

const char* nameOf(CallState state) {
    for (const auto& [s, name] : kNames)
        if (s == state) return name;
    return "unknown";
}

std::optional<CallState> parseCallState(std::string_view text) {
    for (const auto& [s, name] : kNames)
        if (std::string_view(name) == text) return s;
    return std::nullopt;
}

std::optional<CallState> parseTwilioStatus(std::string_view text) {
    if (text == "queued" || text == "initiated") return CallState::initiated;
    if (text == "ringing") return CallState::ringing;
    if (text == "in-progress") return CallState::in_progress;
    if (text == "completed") return CallState::completed;
    if (text == "busy") return CallState::busy;
    if (text == "failed") return CallState::failed;
    if (text == "no-answer") return CallState::no_answer;
    if (text == "canceled") return CallState::canceled;
    return std::nullopt;
}

bool isTerminal(CallState state) {
    return rank(state) == 4;
}

int rank(CallState state) {
    switch (state) {
        case CallState::reserved:
            return 0;
        case CallState::initiated:
            return 1;
        case CallState::ringing:
            return 2;
        case CallState::in_progress:
            return 3;
        default:
            return 4;
    }
}

}  // namespace calltrack::db
