#pragma once
// The two TwiML answers of the inbound gate, XML-escaped.

#include <string>
#include <string_view>

namespace calltrack::api {

class TwiML {
  public:
    // <Response><Redirect method="POST">url</Redirect></Response>
    static std::string redirect(std::string_view url);
    // <Response><Reject reason="busy"/></Response>
    static std::string rejectBusy();
    // &, <, >, " and ' as entities.
    static std::string escape(std::string_view text);
};

}  // namespace calltrack::api
