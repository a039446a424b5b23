#pragma once
// A Twilio webhook as received: its form fields, the query of the URL it was
// sent to (calltrack's own ?call_id= / ?client_id=, read from the request
// target and never from the body, which httplib would merge in), and its
// signature, checked over the full URL as Twilio signs it.

#include "api/http/ApiContext.h"
#include "api/webhooks/FormBody.h"

#include <httplib.h>

#include <optional>
#include <string>

namespace calltrack::api {

class TwilioRequest {
  public:
    // Throws ApiError 415 (not a form) or 400 (malformed form or query).
    TwilioRequest(const ApiContext& ctx, const httplib::Request& req);

    const std::string* field(std::string_view name) const { return FormBody::first(form_, name); }
    const std::string* query(std::string_view name) const { return FormBody::first(query_, name); }
    // A Twilio id field (CallSid, AccountSid): required, at most 64 of
    // [A-Za-z0-9._:-] (real ones are 34), else 400.
    std::string requiredSid(const char* name) const;
    bool signedWith(const std::string& authToken) const;

  private:
    FormBody::Pairs form_;
    FormBody::Pairs query_;
    std::string url_;
    std::string signature_;
};

}  // namespace calltrack::api
