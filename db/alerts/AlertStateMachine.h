#pragma once
// One alert's states, as a pure function of its last state, the signal now
// and its rule (no clock, no database: tests drive it directly).
//
//   inactive/resolved --signal >= fire_at--> pending (firing at once if for_s = 0)
//   pending  --signal < fire_at--> inactive
//   pending  --held for for_s--> firing          notify "firing"
//   firing   --signal < clear_at for for_s--> resolved   notify "resolved"
//   firing   --signal back >= clear_at--> firing (the clearing clock restarts)
//
// Between clear_at and fire_at a firing alert stays firing and an inactive
// one stays inactive: a signal oscillating between the thresholds, or
// across both faster than for_s, is one episode, never a flap. An unknown
// signal (no limit, no data) changes nothing.

#include "db/alerts/AlertConfig.h"

#include <cstdint>
#include <optional>
#include <string>

namespace calltrack::db {

struct AlertState {
    std::string state = "inactive";  // inactive, pending, firing, resolved
    std::optional<double> value{};
    std::optional<int64_t> pendingAt{}, startsAt{}, clearSince{}, endsAt{};
    bool operator==(const AlertState&) const = default;
};

struct AlertStep {
    AlertState next;
    std::optional<std::string> notify{};  // "firing" or "resolved"
    bool transition = false;              // the state itself changed
};

class AlertStateMachine {
  public:
    static AlertStep step(const AlertState& current, std::optional<double> signal,
                          const AlertRule& rule, int64_t nowMs);
};

}  // namespace calltrack::db
