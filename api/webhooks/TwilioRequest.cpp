#include "api/webhooks/TwilioRequest.h"

#include "api/http/ApiError.h"
#include "api/webhooks/TwilioSignature.h"
#include "db/TextRules.h"

namespace calltrack::api {

TwilioRequest::TwilioRequest(const ApiContext& ctx, const httplib::Request& req) {
    const auto type = req.get_header_value("Content-Type");
    if (type.rfind("application/x-www-form-urlencoded", 0) != 0) {
        throw ApiError(415, "unsupported_media_type",
                       "Twilio webhooks are application/x-www-form-urlencoded");
    }
    auto form = FormBody::parse(req.body);
    if (!form) throw ApiError(400, "malformed_form", "the form body has a malformed %-escape");
    form_ = std::move(*form);
    const auto q = req.target.find('?');
    if (q != std::string::npos) {
        auto query = FormBody::parse(std::string_view(req.target).substr(q + 1));
        if (!query) throw ApiError::badRequest("the URL's query has a malformed %-escape");
        query_ = std::move(*query);
    }
    // req.target is the path and query exactly as sent: Twilio signs the URL
    // as configured, so behind a proxy --public-url supplies scheme and host.
    url_ = ctx.publicUrl.empty() ? "http://" + req.get_header_value("Host") + req.target
                                 : ctx.publicUrl + req.target;
    signature_ = req.get_header_value("X-Twilio-Signature");
}

std::string TwilioRequest::requiredSid(const char* name) const {
    const std::string* value = field(name);
    if (!value) throw ApiError::badRequest(std::string(name) + " is required");
    try {
        db::TextRules::requireIdentifier(*value, name);
    } catch (const db::EngineError& e) {
        throw ApiError::badRequest(e.what());
    }
    return *value;
}

bool TwilioRequest::signedWith(const std::string& authToken) const {
    return !signature_.empty() && TwilioSignature::verify(authToken, signature_, url_, form_);
}

}  // namespace calltrack::api
