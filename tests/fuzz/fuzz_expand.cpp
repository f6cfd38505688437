// libFuzzer harness over the CPU backend (expand_cpu): arbitrary batch sizes,
// lengths of either integer width, uniform or per-request qo, max_qo,
// capacity, output subsets and sizes, and outputs overlapping inputs.
//
// Every buffer is its own allocation of exactly the size the call claims, so
// AddressSanitizer reports any access outside it. A rejected call must leave
// every output untouched; an accepted one must equal the independent
// reference of tests/cpp/reference.h, element for element.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "../cpp/reference.h"
#include "specmeta/specmeta.h"

namespace {

constexpr int32_t kPoison = 0x7f7f7f7f;
constexpr int64_t kMaxBs = 600;         // past every size the backends treat differently
constexpr int64_t kMaxCapacity = 3000;  // a few thousand rows keep each run fast

// Reads fixed-size values off the fuzzer's bytes; zeros once they run out.
class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  template <class T>
  T take() {
    T value{};
    const size_t n = std::min(sizeof(T), size_ - used_);
    std::memcpy(&value, data_ + used_, n);
    used_ += n;
    return value;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t used_ = 0;
};

// A length: mostly small and plausible, sometimes anything at all.
int64_t take_length(Bytes& in, bool wide) {
  const uint8_t shape = in.take<uint8_t>();
  if (shape < 200) return static_cast<int64_t>(in.take<uint8_t>() % 40) - 2;
  if (wide) return in.take<int64_t>();
  return in.take<int32_t>();
}

// One int32 output buffer of the size the call claims, poisoned.
struct Output {
  std::unique_ptr<int32_t[]> data;
  int64_t size = -1;

  specmeta::OutSpan span() const { return {data.get(), size}; }
};

Output make_output(Bytes& in, int64_t needed) {
  Output out;
  const uint8_t mode = in.take<uint8_t>();
  if (mode % 4 == 0) return out;  // not wanted
  out.size = std::max<int64_t>(0, needed + static_cast<int64_t>(mode % 7 == 1 ? -1 : 0) + (mode % 5 == 2 ? 2 : 0));
  out.data.reset(new int32_t[std::max<int64_t>(out.size, 1)]);
  std::fill(out.data.get(), out.data.get() + out.size, kPoison);
  return out;
}

template <class T>
std::unique_ptr<T[]> make_input(const std::vector<int64_t>& values) {
  std::unique_ptr<T[]> data(new T[std::max<size_t>(values.size(), 1)]);
  for (size_t i = 0; i < values.size(); ++i) data[i] = static_cast<T>(values[i]);
  return data;
}

bool untouched(const Output& o) {
  for (int64_t i = 0; i < o.size; ++i) {
    if (o.data[i] != kPoison) return false;
  }
  return true;
}

bool same(const Output& o, const std::vector<int32_t>& want) {
  if (o.size < 0) return true;
  for (size_t i = 0; i < want.size(); ++i) {
    if (o.data[i] != want[i]) return false;
  }
  for (int64_t i = static_cast<int64_t>(want.size()); i < o.size; ++i) {
    if (o.data[i] != kPoison) return false;  // nothing past what the call owns
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes in(data, size);
  const int64_t bs = in.take<uint16_t>() % (kMaxBs + 1);
  const bool kv_wide = in.take<uint8_t>() & 1;
  const bool qo_wide = in.take<uint8_t>() & 1;
  const bool uniform = in.take<uint8_t>() % 3 == 0;
  const int64_t max_qo = in.take<uint8_t>() % 4 == 0 ? in.take<uint8_t>() % 24 : specmeta::kNoMaxQo;
  const int64_t capacity = in.take<uint16_t>() % (kMaxCapacity + 1);
  const int64_t qo_uniform = static_cast<int64_t>(in.take<uint8_t>() % 12) - 1;

  std::vector<int64_t> kv(bs), qo(bs);
  for (int64_t b = 0; b < bs; ++b) {
    kv[b] = take_length(in, kv_wide);
    qo[b] = take_length(in, qo_wide);
    if (!kv_wide) kv[b] = static_cast<int32_t>(kv[b]);
    if (!qo_wide) qo[b] = static_cast<int32_t>(qo[b]);
  }
  const auto kv32 = make_input<int32_t>(kv);
  const auto kv64 = make_input<int64_t>(kv);
  const auto qo32 = make_input<int32_t>(qo);
  const auto qo64 = make_input<int64_t>(qo);

  specmeta::ExpandArgs args;
  args.bs = bs;
  args.kv_lens = {kv_wide ? static_cast<const void*>(kv64.get()) : kv32.get(),
                  kv_wide ? specmeta::IntType::kInt64 : specmeta::IntType::kInt32, bs};
  if (uniform) {
    args.qo_uniform = qo_uniform;
  } else {
    args.qo_lens = {qo_wide ? static_cast<const void*>(qo64.get()) : qo32.get(),
                    qo_wide ? specmeta::IntType::kInt64 : specmeta::IntType::kInt32, bs};
  }
  args.max_qo = max_qo;
  args.capacity = capacity;
  Output seqlens = make_output(in, capacity), cu_q = make_output(in, bs + 1), row_to_req = make_output(in, capacity);
  Output num_rows = make_output(in, 1), status = make_output(in, 1);
  args.out = {seqlens.span(), cu_q.span(), row_to_req.span(), num_rows.span(), status.span()};
  if (in.take<uint8_t>() == 0xA5 && bs > 0 && capacity > 0) {
    // An output that overlaps an input must be rejected.
    args.out.seqlens_expanded = {reinterpret_cast<int32_t*>(const_cast<void*>(args.kv_lens.data)), capacity};
  }

  const specmeta::Status result = specmeta::expand_cpu(args);
  const Output* outputs[] = {&seqlens, &cu_q, &row_to_req, &num_rows, &status};
  if (!result.ok()) {
    for (const Output* o : outputs) {
      if (!untouched(*o)) std::abort();
    }
    return 0;
  }
  specmeta_test::RefInput ref_in;
  ref_in.kv = kv;
  ref_in.uniform = uniform;
  ref_in.qo_uniform = qo_uniform;
  ref_in.qo = qo;
  ref_in.max_qo = max_qo;
  ref_in.capacity = capacity;
  const specmeta_test::RefOutput want = specmeta_test::reference_expand(ref_in);
  if (!same(seqlens, want.seqlens_expanded) || !same(cu_q, want.cu_seqlens_q) || !same(row_to_req, want.row_to_req) ||
      !same(num_rows, {want.num_rows}) || !same(status, {want.status})) {
    std::abort();
  }
  return 0;
}
