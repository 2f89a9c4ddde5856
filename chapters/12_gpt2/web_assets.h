/// @file web_assets.h
/// @brief The page of `gpt2 serve` (web/index.html, web/style.css, web/app.js), compiled into the
/// binary so that the server reads no file when it runs.
///
/// CMake turns each file into a byte array at build time (web/embed.cmake writes web_assets.cpp
/// in the build directory), so the page stays three ordinary files to read and edit, with no
/// build step of its own: edit one, rebuild, reload the page.
#pragma once

#include <span>
#include <string_view>

namespace gpt2 {

struct WebAsset {
  std::string_view path;          ///< "/index.html", "/app.js", "/style.css"
  std::string_view content_type;  ///< "text/html; charset=utf-8", ...
  std::string_view body;
};

/// Every file of the page.
std::span<const WebAsset> web_assets();

}  // namespace gpt2
