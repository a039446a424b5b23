#include "app/cli/CallCommands.h"

#include "api/json/ResourceJson.h"
#include "app/cli/CellText.h"
#include "app/cli/CliSession.h"
#include "app/cli/ExitCode.h"
#include "app/cli/TextTable.h"
#include "db/EngineError.h"
#include "db/IsoTime.h"
#include "db/calls/CallTable.h"

#include <iostream>
#include <memory>
#include <optional>
#include <string>

namespace calltrack::app {

namespace {

// Values the options are parsed into, in a shared_ptr held by the callbacks,
// so they outlive parsing and the command's run.
struct CallArgs {
    db::AdmitRequest admitReq;
    std::optional<std::string> admitExternal, admitMetadata;
    db::EndRequest endReq;
    std::optional<int64_t> endId;
    std::optional<std::string> endClient, endExternal, endReason;
    db::CallTable::ListFilter filter;
    std::optional<std::string> callsClient;
    bool callsAll = false, callsEnded = false;
    bool callsJson = false;
};

void printCalls(const std::vector<db::Call>& calls) {
    TextTable t({"id", "client", "external_id", "state", "slot", "bot", "admitted_at", "expires_at",
                 "ended_at", "end_reason"});
    for (const auto& c : calls) {
        t.add({std::to_string(c.id), c.clientId, c.externalId, std::string(db::nameOf(c.state)),
               c.holdsSlot ? "yes" : (c.wouldRefuse ? "no (" + *c.wouldRefuse + ")" : "no"),
               c.botId.value_or("-"), db::isoTime(c.createdAt), optTime(c.expiresAt),
               optTime(c.endedAt), c.endReason.value_or("")});
    }
    t.print(std::cout);
}

}  // namespace

void addCallCommands(CLI::App& app, const CliContext& context) {
    auto a = std::make_shared<CallArgs>();
    a->admitReq.source = "cli";
    auto* admitCmd = app.add_subcommand("admit", "admit one call (exit 4 when refused)");
    admitCmd->add_option("client", a->admitReq.clientId)->required();
    admitCmd->add_option("--external-id", a->admitExternal,
                         "the provider's call id (generated if absent)");
    admitCmd->add_option("--provider", a->admitReq.provider)->capture_default_str();
    admitCmd->add_option("--metadata", a->admitMetadata, "JSON stored with the call");
    admitCmd->callback([context, a] {
        context.action = [context, a] {
            CliSession s(context);
            a->admitReq.externalId = a->admitExternal;
            a->admitReq.metadataJson = a->admitMetadata;
            const auto r = s.admission.admit(a->admitReq);
            if (r.outcome == db::AdmitResult::Outcome::refused) {
                std::cerr << "refused: " << db::nameOf(r.refusal) << " (client " << r.client.active
                          << "/" << r.client.limit << ", global " << r.global.active << "/"
                          << r.global.limit << ")";
                if (r.refusal == db::Refusal::bot_unavailable)
                    std::cerr << ": no warm bot with free capacity (`calltrack serve` warms them)";
                if (r.retryAfterMs) std::cerr << ", retry after " << *r.retryAfterMs << " ms";
                std::cerr << "\n";
                // No such client is "not found" (5) like everywhere else, not a refusal.
                return r.refusal == db::Refusal::unknown_client ? kNotFound : kRefused;
            }
            if (r.outcome == db::AdmitResult::Outcome::already_ended) {
                std::cerr << "refused: call_already_ended: call " << r.call->id << " external_id "
                          << r.call->externalId << " already ended as " << db::nameOf(r.call->state)
                          << "; do not dial it\n";
                return kRefused;
            }
            std::cout << (r.outcome == db::AdmitResult::Outcome::existing ? "existing" : "admitted")
                      << " call " << r.call->id << " external_id " << r.call->externalId
                      << " state " << db::nameOf(r.call->state) << " (client " << r.client.active
                      << "/" << r.client.limit << ", global " << r.global.active << "/"
                      << r.global.limit << ")";
            if (r.call->botId) std::cout << " bot " << *r.call->botId;
            if (r.call->wouldRefuse)
                std::cout << " [observe: enforce would refuse: " << *r.call->wouldRefuse << "]";
            std::cout << "\n";
            return kOk;
        };
    });

    // end
    a->endReq.source = "cli";
    auto* endCmd = app.add_subcommand(
        "end", "end a live call and release its slot (by id, or --client and --external-id)");
    endCmd->add_option("id", a->endId, "calltrack call id");
    endCmd->add_option("--client", a->endClient);
    endCmd->add_option("--external-id", a->endExternal);
    endCmd->add_option("--reason", a->endReason, "stored as the call's end_reason");
    endCmd->callback([context, a] {
        context.action = [context, a] {
            if (a->endId)
                a->endReq.call = db::CallRef::byId(*a->endId);
            else if (a->endClient && a->endExternal)
                a->endReq.call = db::CallRef::byExternal(*a->endClient, *a->endExternal);
            else
                throw db::EngineError(db::ErrorCode::invalid_argument,
                                      "name the call: an id, or --client and --external-id");
            a->endReq.reason = a->endReason.value_or("ended by hand (cli)");
            CliSession s(context);
            const auto r = s.lifecycle.end(a->endReq);
            std::cout << "call " << r.call->id << " " << db::nameOf(r.outcome) << ": "
                      << db::nameOf(r.call->state);
            if (!r.detail.empty()) std::cout << " (" << r.detail << ")";
            std::cout << "\n";
            return kOk;
        };
    });

    // calls
    auto* callsCmd =
        app.add_subcommand("calls", "list calls, newest first (live ones unless --all/--ended)");
    callsCmd->add_option("--client", a->callsClient);
    callsCmd->add_flag("--all", a->callsAll, "live and ended calls");
    callsCmd->add_flag("--ended", a->callsEnded, "ended calls only");
    callsCmd->add_option("--limit", a->filter.limit, "at most this many")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    callsCmd->add_flag("--json", a->callsJson, "one JSON document: {\"calls\": [...]}");
    callsCmd->callback([context, a] {
        context.action = [context, a] {
            a->filter.clientId = a->callsClient;
            if (a->callsAll) a->filter.which = db::CallTable::ListFilter::Which::all;
            if (a->callsEnded) a->filter.which = db::CallTable::ListFilter::Which::ended;
            CliSession s(context);
            const auto calls = s.database.readers().read(
                [&](db::Connection& c) { return db::CallTable::list(c, a->filter); });
            if (a->callsJson) {
                nlohmann::json list = nlohmann::json::array();
                for (const auto& call : calls) list.push_back(api::ResourceJson::call(call));
                std::cout << nlohmann::json{{"calls", list}}.dump(2) << "\n";
            } else {
                printCalls(calls);
            }
            return kOk;
        };
    });
}

}  // namespace calltrack::app
