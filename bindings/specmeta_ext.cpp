// nanobind module `specmeta._specmeta`: the C++ core on raw device pointers.
//
// Arrays arrive as (pointer, element type, length) triples that the Python
// layer (python/specmeta/_arrays.py) reads off torch, NumPy or CuPy objects
// after checking dtype, rank, device and contiguity. Importing a torch tensor
// through DLPack calls its Python-level __dlpack__ and costs microseconds per
// array, more than the whole kernel launch, so this layer takes plain
// integers. Size, relation and aliasing checks stay in the core (validate()).
#include <nanobind/nanobind.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nanobind/stl/vector.h>

#include "specmeta/specmeta.h"

namespace nb = nanobind;

namespace {

constexpr int kHostDevice = -1;  // `device` value for arrays in host memory

void raise_on_error(const specmeta::Status& status) {
  if (status.ok()) return;
  if (status.code() == specmeta::Status::Code::kInvalidArgument) throw nb::value_error(status.message().c_str());
  throw std::runtime_error(status.message());
}

specmeta::IntSpan int_span(uintptr_t ptr, int type, int64_t size) {
  return {reinterpret_cast<const void*>(ptr), static_cast<specmeta::IntType>(type), size};
}

specmeta::OutSpan out_span(uintptr_t ptr, int64_t size) { return {reinterpret_cast<int32_t*>(ptr), size}; }

void expand(int device, int64_t bs, uintptr_t kv_ptr, int kv_type, int64_t kv_size, uintptr_t qo_ptr, int qo_type,
            int64_t qo_size, int64_t qo_uniform, int64_t max_qo, int64_t capacity, uintptr_t seqlens_ptr,
            int64_t seqlens_size, uintptr_t cu_q_ptr, int64_t cu_q_size, uintptr_t row_to_req_ptr,
            int64_t row_to_req_size, uintptr_t num_rows_ptr, int64_t num_rows_size, uintptr_t status_ptr,
            int64_t status_size, uintptr_t stream) {
  specmeta::ExpandArgs args;
  args.bs = bs;
  args.kv_lens = int_span(kv_ptr, kv_type, kv_size);
  args.qo_lens = int_span(qo_ptr, qo_type, qo_size);
  args.qo_uniform = qo_uniform;
  args.max_qo = max_qo;
  args.capacity = capacity;
  args.out.seqlens_expanded = out_span(seqlens_ptr, seqlens_size);
  args.out.cu_seqlens_q = out_span(cu_q_ptr, cu_q_size);
  args.out.row_to_req = out_span(row_to_req_ptr, row_to_req_size);
  args.out.num_rows = out_span(num_rows_ptr, num_rows_size);
  args.out.status = out_span(status_ptr, status_size);
  if (device == kHostDevice) {
    raise_on_error(specmeta::expand_cpu(args));
    return;
  }
  raise_on_error(specmeta::use_cuda_device(device));
  raise_on_error(specmeta::expand_cuda(args, reinterpret_cast<cudaStream_t>(stream)));
}

int64_t count_rows_host(int64_t bs, uintptr_t qo_ptr, int qo_type, int64_t qo_size, int64_t max_qo) {
  if (bs < 0 || qo_size < bs || (bs > 0 && qo_ptr == 0)) {
    throw nb::value_error(("qo_lens: expected at least bs = " + std::to_string(bs) + " elements, got " +
                           std::to_string(qo_size)).c_str());
  }
  specmeta::ExpandArgs args;
  args.bs = bs;
  args.qo_lens = int_span(qo_ptr, qo_type, qo_size);
  args.max_qo = max_qo;
  return specmeta::count_rows_host(args);
}

// A metadata call bound to its arrays: built from a flat descriptor of ints
// (laid out by python/specmeta/_metadata.py's _Descriptor, read in the same
// order here), validated once; launch() then only launches.
class Plan {
 public:
  explicit Plan(const std::vector<int64_t>& d) {
    size_t at = 0;
    auto next = [&]() {
      if (at >= d.size()) throw nb::value_error(("descriptor: expected more fields, got " + std::to_string(d.size())).c_str());
      return d[at++];
    };
    auto span = [&]() {
      const auto ptr = static_cast<uintptr_t>(next());
      const int type = static_cast<int>(next());
      return int_span(ptr, type, next());
    };
    auto table = [&]() {
      specmeta::TableSpan t;
      t.data = reinterpret_cast<const int32_t*>(static_cast<uintptr_t>(next()));
      t.rows = next();
      t.cols = next();
      t.row_stride = next();
      return t;
    };
    auto out = [&]() {
      const auto ptr = static_cast<uintptr_t>(next());
      return out_span(ptr, next());
    };
    auto out_table = [&]() {
      specmeta::OutTable t;
      t.data = reinterpret_cast<int32_t*>(static_cast<uintptr_t>(next()));
      t.rows = next();
      t.cols = next();
      t.row_stride = next();
      return t;
    };
    device_ = static_cast<int>(next());
    specmeta::MetadataArgs m;
    m.mode = static_cast<specmeta::Mode>(next());
    m.bs = next();
    m.capacity = next();
    m.num_draft_tokens = next();
    m.topk = next();
    m.kpool = next();
    m.width = next();
    m.page_size = next();
    m.full_width = next() != 0;
    m.seq_lens = span();
    m.accept_lens = span();
    m.extend_lens = span();
    m.req_pool_indices = span();
    m.req_to_token = table();
    const int64_t sets = next();
    if (sets < 1) throw nb::value_error(("out: expected at least one Metadata, got " + std::to_string(sets)).c_str());
    std::vector<specmeta::ExpandOutputs> outs(static_cast<size_t>(sets));
    for (specmeta::ExpandOutputs& o : outs) {
      // Same order as OUTPUTS in python/specmeta/_metadata.py.
      o.cache_seqlens = out();
      o.cu_seqlens_k = out();
      o.cu_seqlens_q = out();
      o.seqlens_expanded = out();
      o.sparse_seqlens = out();
      o.sparse_cu_seqlens_k = out();
      o.row_to_req = out();
      o.num_rows = out();
      o.page_table_1 = out_table();
      o.real_page_table = out_table();
      o.status = out();
    }
    if (at != d.size()) throw nb::value_error(("descriptor: expected " + std::to_string(at) + " fields, got more").c_str());
    m.out = outs[0];
    m.extra_out = outs.data() + 1;
    m.extra_out_count = static_cast<int32_t>(sets - 1);
    specmeta::ExpandArgs args;
    raise_on_error(specmeta::validate(m, &args));
    raise_on_error(bound_.bind(args));
  }

  void launch(int64_t bs, uintptr_t stream) const {
    if (device_ == kHostDevice) {
      raise_on_error(bound_.run_cpu(bs));
      return;
    }
    raise_on_error(specmeta::use_cuda_device(device_));
    raise_on_error(bound_.launch_cuda(bs, reinterpret_cast<cudaStream_t>(stream)));
  }

  int64_t max_bs() const { return bound_.max_bs(); }

 private:
  int device_ = kHostDevice;
  specmeta::BoundExpansion bound_;
};

// Address of a contiguous host buffer (a NumPy array), read through the
// buffer protocol.
uintptr_t buffer_address(nb::handle obj) {
  Py_buffer view;
  if (PyObject_GetBuffer(obj.ptr(), &view, PyBUF_C_CONTIGUOUS) != 0) throw nb::python_error();
  const auto address = reinterpret_cast<uintptr_t>(view.buf);
  PyBuffer_Release(&view);
  return address;
}

}  // namespace

NB_MODULE(_specmeta, m) {
  m.doc() = "specmeta C++ core (use the `specmeta` package, not this module)";
  // Plans live in the Python layer's plan caches and in Builders that
  // servers (and CUDA-graph closures) keep until the interpreter exits, when
  // nanobind would report them as leaks although nothing leaks at run time.
  nb::set_leak_warnings(false);
  m.attr("HOST_DEVICE") = kHostDevice;
  m.attr("INT32") = static_cast<int>(specmeta::IntType::kInt32);
  m.attr("INT64") = static_cast<int>(specmeta::IntType::kInt64);
  m.attr("NO_MAX_QO") = specmeta::kNoMaxQo;
  m.attr("HAS_CUDA") = bool(SPECMETA_HAS_CUDA);
  m.def("cuda_available", &specmeta::cuda_available);
  m.def("expand", &expand);
  m.def("count_rows_host", &count_rows_host);
  m.def("buffer_address", &buffer_address);
  m.attr("MAX_DESTINATION_SETS") = specmeta::kMaxDestinationSets;
  nb::class_<Plan>(m, "Plan")
      .def(nb::init<const std::vector<int64_t>&>())
      .def("launch", &Plan::launch)
      .def_prop_ro("max_bs", &Plan::max_bs);
}
