// Independent reference of the ragged expansion, written from SPEC sections
// 2-4 and 6 only (it includes nothing from src/). It favours obviousness over
// speed: lengths are widened to __int128 so that no intermediate can wrap,
// each request is first turned into a plain record, and the rows are produced
// by appending (request, j) pairs to a list that stops growing at capacity.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace specmeta_test {

using wide = __int128;

constexpr int64_t kI32Max = 2147483647;

// Status bits of SPEC section 6, spelled out again on purpose.
constexpr int32_t kBitCapacity = 1;
constexpr int32_t kBitQoExceedsKv = 2;
constexpr int32_t kBitOverflow = 8;
constexpr int32_t kBitQoRange = 16;

struct RefInput {
  std::vector<int64_t> kv;       // kv_b, one per request (size == bs)
  bool uniform = false;          // qo_b = qo_uniform for every b
  int64_t qo_uniform = 0;
  std::vector<int64_t> qo;       // raw qo_b when !uniform (size == bs)
  int64_t max_qo = kI32Max;      // per-request qo outside [0, max_qo] counts as 0 rows
  int64_t capacity = 0;
};

struct RefOutput {
  std::vector<int32_t> seqlens_expanded;  // [capacity]
  std::vector<int32_t> cu_seqlens_q;      // [bs + 1]
  std::vector<int32_t> row_to_req;        // [capacity]
  int32_t num_rows = 0;
  int32_t status = 0;
  int64_t total = 0;                      // rows needed (not clamped), for test bookkeeping
};

inline int32_t clamp_to_int32(wide v) {
  if (v > kI32Max) return static_cast<int32_t>(kI32Max);
  return static_cast<int32_t>(v);
}

inline RefOutput reference_expand(const RefInput& in) {
  const int64_t bs = static_cast<int64_t>(in.kv.size());

  // Step 1: per-request records (effective qo, kv) and per-request faults.
  struct Request {
    wide kv;
    wide qo;  // rows this request really owns (0 if its qo was out of range)
  };
  std::vector<Request> requests;
  int32_t status = 0;
  for (int64_t b = 0; b < bs; ++b) {
    wide qo = in.uniform ? wide(in.qo_uniform) : wide(in.qo[b]);
    if (!in.uniform && (qo < 0 || qo > wide(in.max_qo))) {
      status |= kBitQoRange;  // "treated as 0 rows"
      qo = 0;
    }
    const wide kv = in.kv[b];
    if (qo > kv) status |= kBitQoExceedsKv;
    // The request's largest value, its last row, is exactly kv_b.
    if (qo > 0 && kv > kI32Max) status |= kBitOverflow;
    requests.push_back({kv, qo});
  }

  // Step 2: cu_seqlens_q = 0, qo_0, qo_0 + qo_1, ... saturated at INT32_MAX.
  RefOutput out;
  wide running = 0;
  out.cu_seqlens_q.push_back(0);
  for (const Request& r : requests) {
    running += r.qo;
    out.cu_seqlens_q.push_back(clamp_to_int32(running));
  }
  const wide total = running;
  if (total > kI32Max) status |= kBitOverflow;
  if (total > wide(in.capacity)) status |= kBitCapacity;
  out.total = static_cast<int64_t>(total);  // bs * INT32_MAX fits in int64

  // Step 3: the list of live rows, request by request, cut at capacity.
  struct Row {
    int64_t b;
    wide j;
  };
  std::vector<Row> rows;
  for (int64_t b = 0; b < bs && static_cast<int64_t>(rows.size()) < in.capacity; ++b) {
    for (wide j = 0; j < requests[b].qo && static_cast<int64_t>(rows.size()) < in.capacity; ++j) {
      rows.push_back({b, j});
    }
  }

  // Step 4: per-row outputs; rows past the list are empty (0 / -1).
  out.seqlens_expanded.assign(in.capacity, 0);
  out.row_to_req.assign(in.capacity, -1);
  for (size_t r = 0; r < rows.size(); ++r) {
    const Request& q = requests[rows[r].b];
    const wide len = q.kv - q.qo + 1 + rows[r].j;
    out.seqlens_expanded[r] = clamp_to_int32(len < 0 ? wide(0) : len);
    out.row_to_req[r] = static_cast<int32_t>(rows[r].b);
  }
  out.num_rows = static_cast<int32_t>(rows.size());
  out.status = status;
  return out;
}

}  // namespace specmeta_test
