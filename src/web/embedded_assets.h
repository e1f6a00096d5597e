#pragma once
// The browser code built from web/ (tracker.js, the demo page), compiled into the binary so a
// single file serves everything. The definition is generated at build time
// (cmake/embed_files.cmake).

#include <span>
#include <string_view>

namespace sluice::web {

struct EmbeddedAsset {
  std::string_view path;          // where it is served: "/tracker.js"
  std::string_view content_type;  // a literal
  std::string_view body;
};

std::span<const EmbeddedAsset> embedded_assets();

}  // namespace sluice::web
