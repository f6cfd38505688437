// BoundExpansion: validate once, launch many times.
#include <string>

#include "backends.h"
#include "specmeta/expand.h"

namespace specmeta {

Status BoundExpansion::bind(const ExpandArgs& args) {
  bound_ = false;
  if (Status s = validate(args); !s.ok()) return s;
  args_ = args;
  extra_out_.assign(args.extra_out, args.extra_out + args.extra_out_count);
  args_.extra_out = extra_out_.data();
  bound_ = true;
  return {};
}

Status BoundExpansion::with_bs(int64_t bs, ExpandArgs* args) const {
  if (!bound_) return Status::invalid_argument("BoundExpansion: expected a successful bind() first, got none");
  if (bs < 0 || bs > args_.bs) {
    return Status::invalid_argument("bs: expected a value in [0, " + std::to_string(args_.bs) +
                                    "] (the bound batch), got " + std::to_string(bs));
  }
  *args = args_;
  args->bs = bs;
  return {};
}

Status BoundExpansion::run_cpu(int64_t bs) const {
  ExpandArgs args;
  if (Status s = with_bs(bs, &args); !s.ok()) return s;
  detail::expand_cpu_validated(args);
  return {};
}

Status BoundExpansion::launch_cuda(int64_t bs, cudaStream_t stream) const {
  ExpandArgs args;
  if (Status s = with_bs(bs, &args); !s.ok()) return s;
  return detail::expand_cuda_validated(args, stream);
}

}  // namespace specmeta
