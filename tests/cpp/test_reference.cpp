// The reference itself, on cases worked out by hand from the SPEC.
#include <gtest/gtest.h>

#include "examples.h"
#include "reference.h"

namespace specmeta_test {
namespace {

TEST(Reference, HandWorkedExamples) {
  for (const Example& e : hand_examples()) {
    SCOPED_TRACE(e.name);
    const RefOutput got = reference_expand(e.c.in);
    EXPECT_EQ(got.seqlens_expanded, e.expected.seqlens_expanded);
    EXPECT_EQ(got.cu_seqlens_q, e.expected.cu_seqlens_q);
    EXPECT_EQ(got.row_to_req, e.expected.row_to_req);
    EXPECT_EQ(got.num_rows, e.expected.num_rows);
    EXPECT_EQ(got.status, e.expected.status);
  }
}

// Values far outside int32 must not wrap inside the reference.
TEST(Reference, ExtremeInt64Kv) {
  RefInput in;
  in.kv = {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  in.qo = {2, 2};
  in.capacity = 4;
  const RefOutput got = reference_expand(in);
  EXPECT_EQ(got.seqlens_expanded, (std::vector<int32_t>{0, 0, 2147483647, 2147483647}));
  EXPECT_EQ(got.status, kBitQoExceedsKv | kBitOverflow);
}

}  // namespace
}  // namespace specmeta_test
