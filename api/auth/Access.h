#pragma once
// Who may do what, once BearerAuth has said who is asking: the admin token
// may do anything; a client token acts only for its own client, and another
// client's resources answer 404, as if they did not exist (so a token never
// learns which other clients there are).

#include "api/http/RequestContext.h"

#include <string>

namespace calltrack::api {

// Admin only; anything else is 403 forbidden.
void requireAdmin(const RequestContext& rc);
// Whether the request may act for `clientId`.
bool maySee(const RequestContext& rc, const std::string& clientId);

}  // namespace calltrack::api
