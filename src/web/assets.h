// The dashboard's static files (src/web/assets/), embedded at build time by
// tools/embed_web.cmake.
#ifndef PGJOBS_WEB_ASSETS_H_
#define PGJOBS_WEB_ASSETS_H_

#include <string>
#include <vector>

namespace pgjobs::web {

struct Asset {
  std::string name;  // file name, e.g. "dashboard.js"
  std::string text;
};

// Every asset, in file name order.
const std::vector<Asset>& Assets();
// The asset called name, or nullptr.
const Asset* FindAsset(const std::string& name);

}  // namespace pgjobs::web

#endif  // PGJOBS_WEB_ASSETS_H_
