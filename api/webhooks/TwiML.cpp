#include "api/webhooks/TwiML.h"

namespace calltrack::api {

std::string TwiML::escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char ch : text) {
        switch (ch) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                out += ch;
        }
    }
    return out;
}

std::string TwiML::redirect(std::string_view url) {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Redirect method=\"POST\">" +
           escape(url) + "</Redirect></Response>";
}

std::string TwiML::rejectBusy() {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Reject "
           "reason=\"busy\"/></Response>";
}

}  // namespace calltrack::api
