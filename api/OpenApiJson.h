#pragma once
// The text of api/openapi.json, compiled in by CMake (api/OpenApiJson.cpp.in).

#include <string>

namespace calltrack::api {
std::string openApiJson();
}
