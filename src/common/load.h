// Reads element i of a length input of either integer width.
#pragma once

#include <cstdint>

#include "row_math.h"
#include "specmeta/types.h"

namespace specmeta {
namespace detail {

SPECMETA_HD int64_t load_len(const void* data, IntType type, int64_t i) {
  return type == IntType::kInt64 ? static_cast<const int64_t*>(data)[i]
                                 : static_cast<int64_t>(static_cast<const int32_t*>(data)[i]);
}

}  // namespace detail
}  // namespace specmeta
