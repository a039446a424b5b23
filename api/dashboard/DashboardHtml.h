#pragma once
// The operator dashboard (api/dashboard/dashboard.html: one page, its CSS and
// JavaScript inline, nothing from elsewhere), compiled in by CMake.

#include <string>

namespace calltrack::api {
std::string dashboardHtml();
}
