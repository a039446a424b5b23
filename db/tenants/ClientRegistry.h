#pragma once
// Clients and the global limit: create, change, read. Writes go through the
// writer like every other write; reads use the ReadPool.
//
// Changing a limit never touches live calls: lowering it below current usage
// refuses new admissions until usage falls below the new limit.

#include "db/Clock.h"
#include "db/storage/GroupCommitWriter.h"
#include "db/storage/ReadPool.h"
#include "db/tenants/Client.h"

#include <optional>
#include <string>
#include <vector>

namespace calltrack::db {

class ClientRegistry {
  public:
    ClientRegistry(GroupCommitWriter& writer, ReadPool& readers, const Clock& clock)
        : writer_(writer), readers_(readers), clock_(clock) {}

    // create: fails with conflict if the client exists; update: not_found if
    // it does not; put: either (max_concurrent required when creating).
    Client create(const std::string& id, const ClientPatch& patch);
    Client update(const std::string& id, const ClientPatch& patch);
    struct PutResult {
        Client client;
        bool created = false;
    };
    PutResult put(const std::string& id, const ClientPatch& patch,
                  Deadline deadline = noDeadline());

    std::optional<Client> find(const std::string& id);
    std::vector<Client> list();

    GlobalSettings setGlobalLimit(int64_t limit, Deadline deadline = noDeadline());
    GlobalSettings global();

    enum class PutMode { create, update, upsert };
    static PutResult putIn(Connection& c, int64_t nowMs, const std::string& id,
                           const ClientPatch& patch, PutMode mode);
    static std::optional<Client> findIn(Connection& c, const std::string& id);
    static std::vector<Client> listIn(Connection& c);
    static GlobalSettings globalIn(Connection& c);

  private:
    GroupCommitWriter& writer_;
    ReadPool& readers_;
    const Clock& clock_;
};

}  // namespace calltrack::db
