#pragma once
// The call lifecycle of LIFECYCLE.md: reserved -> initiated -> ringing ->
// in_progress -> one terminal state. Rank orders the live states; all
// terminal states share the top rank, and a terminal state is final.

#include <optional>
#include <string_view>

namespace calltrack::db {

enum class CallState {
    reserved,
    initiated,
    ringing,
    in_progress,
    completed,
    busy,
    failed,
    no_answer,
    canceled,
    timed_out,
};

// A static, NUL-terminated name (safe to bind without copying).
const char* nameOf(CallState state);
std::optional<CallState> parseCallState(std::string_view text);
// Twilio's CallStatus values (queued, in-progress, no-answer, ...).
std::optional<CallState> parseTwilioStatus(std::string_view text);
bool isTerminal(CallState state);
int rank(CallState state);

}  // namespace calltrack::db
