#include "web/assets.h"

namespace pgjobs::web {

const Asset* FindAsset(const std::string& name) {
  for (const Asset& a : Assets()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

}  // namespace pgjobs::web
