#include "app/cli/TokenCommands.h"

#include "app/cli/CellText.h"
#include "app/cli/CliSession.h"
#include "app/cli/ExitCode.h"
#include "app/cli/TextTable.h"
#include "db/EngineError.h"
#include "db/IsoTime.h"
#include "db/tenants/ApiTokens.h"

#include <iostream>
#include <memory>
#include <optional>
#include <string>

namespace calltrack::app {

namespace {

// Values the options are parsed into, in a shared_ptr held by the callbacks,
// so they outlive parsing and the command's run.
struct TokenArgs {
    bool tokenAdmin = false;
    std::optional<std::string> tokenClient, tokenLabel;
    std::string revokeId;
};

}  // namespace

void addTokenCommands(CLI::App& app, const CliContext& context) {
    auto a = std::make_shared<TokenArgs>();
    auto* tokenCmd =
        app.add_subcommand("token", "API bearer tokens (only their hashes are stored)");
    tokenCmd->require_subcommand(1);
    auto* tokenCreate = tokenCmd->add_subcommand("create", "create a token and print it once");
    auto* adminFlag = tokenCreate->add_flag("--admin", a->tokenAdmin, "full access");
    auto* clientOpt =
        tokenCreate->add_option("--client", a->tokenClient, "only this client's calls and usage");
    adminFlag->excludes(clientOpt);
    tokenCreate->add_option("--label", a->tokenLabel, "a note for `token list`");
    tokenCreate->callback([context, a] {
        context.action = [context, a] {
            if (!a->tokenAdmin && !a->tokenClient) {
                throw db::EngineError(db::ErrorCode::invalid_argument,
                                      "say --admin or --client ID");
            }
            CliSession s(context);
            const auto created =
                db::ApiTokens::create(s.database.writer(), s.clock, a->tokenClient, a->tokenLabel);
            std::cerr << "token " << created.token.id << " for "
                      << (created.token.clientId ? "client " + *created.token.clientId
                                                 : std::string("admin"))
                      << "; it is shown only now:\n";
            std::cout << created.secret << "\n";
            return kOk;
        };
    });
    auto* tokenRevoke = tokenCmd->add_subcommand("revoke", "revoke a token by its id (tok_...)");
    tokenRevoke->add_option("id", a->revokeId)->required();
    tokenRevoke->callback([context, a] {
        context.action = [context, a] {
            CliSession s(context);
            if (!db::ApiTokens::revoke(s.database.writer(), s.clock, a->revokeId)) {
                throw db::EngineError(db::ErrorCode::not_found, "no active token " + a->revokeId);
            }
            std::cout << "revoked " << a->revokeId << "\n";
            return kOk;
        };
    });
    tokenCmd->add_subcommand("list", "list tokens (never their secrets)")->callback([context, a] {
        context.action = [context, a] {
            CliSession s(context);
            TextTable t({"id", "scope", "label", "created_at", "revoked_at"});
            for (const auto& tok : s.database.readers().read(
                     [](db::Connection& c) { return db::ApiTokens::list(c); })) {
                t.add({tok.id, tok.clientId ? "client " + *tok.clientId : "admin",
                       tok.label.value_or(""), db::isoTime(tok.createdAt), optTime(tok.revokedAt)});
            }
            t.print(std::cout);
            return kOk;
        };
    });
}

}  // namespace calltrack::app
