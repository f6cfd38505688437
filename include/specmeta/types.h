// Framework-free value types shared by every specmeta entry point.
#pragma once

#include <cstdint>
#include <string>

// Same declaration as in the CUDA runtime headers, so users of the CPU
// backend need no CUDA headers.
typedef struct CUstream_st* cudaStream_t;

namespace specmeta {

// Integer element types accepted for length inputs (SGLang passes either).
enum class IntType : int32_t { kInt32 = 0, kInt64 = 1 };

inline int64_t element_size(IntType type) { return type == IntType::kInt64 ? 8 : 4; }

// A read-only view of a 1-D integer input: `size` elements at `data`.
struct IntSpan {
  const void* data = nullptr;
  IntType type = IntType::kInt32;
  int64_t size = 0;
};

// A writable view of a 1-D int32 output of `size` elements. A negative size
// (the default) means "not wanted"; {nullptr, 0} is a wanted empty buffer, as
// frameworks hand out for zero-element arrays, and is checked like any other.
struct OutSpan {
  int32_t* data = nullptr;
  int64_t size = -1;

  bool wanted() const { return size >= 0; }
};

// A read-only row-major int32 table (req_to_token): `rows` x `cols`, row i at
// data + i * row_stride (elements; row_stride >= cols, rows may be padded).
struct TableSpan {
  const int32_t* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_stride = 0;
};

// A writable row-major int32 table (a page table), laid out like TableSpan.
// A negative `rows` (the default) means "not wanted".
struct OutTable {
  int32_t* data = nullptr;
  int64_t rows = -1;
  int64_t cols = 0;
  int64_t row_stride = 0;

  bool wanted() const { return rows >= 0; }
};

// Data-dependent faults, OR-ed into the `status` output (SPEC section 6).
enum StatusBit : int32_t {
  kCapacityExceeded = 1,   // rows needed exceed capacity
  kQoExceedsKv = 2,        // some qo_b > kv_b; lengths clamp at 0
  kBadPoolIndex = 4,       // req_pool_indices[b] outside [0, pool)
  kInt32Overflow = 8,      // a length or prefix sum does not fit int32; saturated
  kQoOutOfRange = 16,      // some qo_b < 0 or qo_b > max_qo; treated as 0 rows
};

// Outcome of a host call. Host-visible mistakes come back as kInvalidArgument
// with a message naming the argument, the expected and the given value.
class Status {
 public:
  enum class Code : int32_t { kOk = 0, kInvalidArgument = 1, kCudaError = 2, kUnavailable = 3 };

  Status() = default;
  static Status invalid_argument(std::string message) {
    return Status(Code::kInvalidArgument, std::move(message));
  }
  static Status cuda_error(std::string message) { return Status(Code::kCudaError, std::move(message)); }
  static Status unavailable(std::string message) { return Status(Code::kUnavailable, std::move(message)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace specmeta
