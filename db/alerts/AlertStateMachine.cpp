#include "db/alerts/AlertStateMachine.h"

namespace calltrack::db {

AlertStep AlertStateMachine::step(const AlertState& s, std::optional<double> signal,
                                  const AlertRule& rule, int64_t now) {
    AlertStep out{s};
    if (!signal) return out;
    const double v = *signal;
    const int64_t holdMs = rule.forS * 1000;
    auto& n = out.next;
    const auto fire = [&] {
        n.state = "firing";
        n.startsAt = now;
        n.clearSince.reset();
        n.endsAt.reset();
        n.value = v;
        out.notify = "firing";
        out.transition = true;
    };
    if (s.state == "inactive" || s.state == "resolved") {
        if (v >= rule.fireAt) {
            n.pendingAt = now;
            if (holdMs == 0) {
                fire();
            } else {
                n.state = "pending";
                n.value = v;
                out.transition = true;
            }
        }
    } else if (s.state == "pending") {
        if (v < rule.fireAt) {
            n.state = "inactive";
            n.pendingAt.reset();
            n.value = v;
            out.transition = true;
        } else if (now - s.pendingAt.value_or(now) >= holdMs) {
            fire();
        }
    } else if (s.state == "firing") {
        if (v < rule.clearAt) {
            if (!s.clearSince) n.clearSince = now;
            if (now - n.clearSince.value_or(now) >= holdMs) {
                n.state = "resolved";
                n.endsAt = now;
                n.clearSince.reset();
                n.value = v;
                out.notify = "resolved";
                out.transition = true;
            }
        } else {
            n.clearSince.reset();
        }
    }
    return out;
}

}  // namespace calltrack::db
