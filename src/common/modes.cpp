// The modes of SPEC section 2 as presets over the one ragged expansion.
#include <cctype>
#include <cstring>
#include <string>
#include <utility>

#include "backends.h"
#include "specmeta/metadata.h"

namespace specmeta {
namespace {

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::kDecode: return "decode";
    case Mode::kTargetVerify: return "target_verify";
    case Mode::kDraftExtend: return "draft_extend";
    case Mode::kDraftExtendStatic: return "draft_extend_static";
    case Mode::kExtend: return "extend";
  }
  return "unknown";
}

// An input the mode reads must be given, one it ignores must not be: a
// caller passing accept_lens to target_verify has mixed up its modes.
// (A null array is accepted for an empty batch: frameworks hand out null
// pointers for zero-element arrays, and no row depends on it.)
Status expect_input(const char* name, const IntSpan& span, bool used, Mode mode, int64_t bs) {
  if (used && span.data == nullptr && bs > 0) {
    return Status::invalid_argument(std::string(name) + ": expected an array for mode " + mode_name(mode) +
                                    ", got none");
  }
  if (used && span.type != IntType::kInt32 && span.type != IntType::kInt64) {
    return Status::invalid_argument(std::string(name) + ": expected int32 or int64 elements, got type code " +
                                    std::to_string(static_cast<int>(span.type)));
  }
  if (!used && (span.data != nullptr || span.size != 0)) {
    return Status::invalid_argument(std::string(name) + ": expected none for mode " + mode_name(mode) +
                                    ", got an array");
  }
  return {};
}

// The expansion names its inputs kv_lens and qo_lens; a builder caller passed
// seq_lens and the mode's row array, so its errors must say those names.
std::string builder_names(std::string message, Mode mode) {
  const char* qo_name = mode == Mode::kDraftExtend ? "accept_lens" : mode == Mode::kExtend ? "extend_lens" : "num_draft_tokens";
  const std::pair<const char*, const char*> renames[] = {
      {"kv_lens", "seq_lens"}, {"qo_lens", qo_name}, {"kv_offset", "num_draft_tokens"}, {"max_qo", "num_draft_tokens"}};
  auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (const auto& [from, to] : renames) {
    const std::string needle(from);
    for (size_t at = message.find(needle); at != std::string::npos; at = message.find(needle, at)) {
      const bool starts = at == 0 || !is_word(message[at - 1]);
      const bool ends = at + needle.size() == message.size() || !is_word(message[at + needle.size()]);
      if (starts && ends) {
        message.replace(at, needle.size(), to);
        at += std::strlen(to);
      } else {
        at += needle.size();
      }
    }
  }
  return message;
}

}  // namespace

int64_t uniform_rows(Mode mode, int64_t num_draft_tokens) {
  switch (mode) {
    case Mode::kDecode: return 1;
    case Mode::kTargetVerify:
    case Mode::kDraftExtendStatic: return num_draft_tokens;
    case Mode::kDraftExtend:
    case Mode::kExtend: return -1;
  }
  return -1;
}

Status to_expand_args(const MetadataArgs& m, ExpandArgs* e) {
  if (static_cast<int32_t>(m.mode) < 0 || static_cast<int32_t>(m.mode) > static_cast<int32_t>(Mode::kExtend)) {
    return Status::invalid_argument("mode: expected one of decode, target_verify, draft_extend, "
                                    "draft_extend_static, extend, got code " +
                                    std::to_string(static_cast<int32_t>(m.mode)));
  }
  if (m.num_draft_tokens < 0 || m.num_draft_tokens > kNoMaxQo) {
    return Status::invalid_argument("num_draft_tokens: expected a value in [0, " + std::to_string(kNoMaxQo) +
                                    "], got " + std::to_string(m.num_draft_tokens));
  }
  if (Status s = expect_input("accept_lens", m.accept_lens, m.mode == Mode::kDraftExtend, m.mode, m.bs); !s.ok()) return s;
  if (Status s = expect_input("extend_lens", m.extend_lens, m.mode == Mode::kExtend, m.mode, m.bs); !s.ok()) return s;
  ExpandArgs a;
  a.bs = m.bs;
  a.kv_lens = m.seq_lens;
  a.kv_offset = m.mode == Mode::kTargetVerify ? m.num_draft_tokens : 0;
  const int64_t rows = uniform_rows(m.mode, m.num_draft_tokens);
  if (rows >= 0) {
    a.qo_uniform = rows;
  } else if (m.mode == Mode::kDraftExtend) {
    a.qo_lens = m.accept_lens;
    a.max_qo = m.num_draft_tokens;
  } else {
    a.qo_lens = m.extend_lens;
  }
  a.capacity = m.capacity;
  a.topk = m.topk;
  a.kpool = m.kpool;
  a.req_pool_indices = m.req_pool_indices;
  a.req_to_token = m.req_to_token;
  a.width = m.width;
  a.page_size = m.page_size;
  a.full_width = m.full_width;
  a.out = m.out;
  a.extra_out = m.extra_out;
  a.extra_out_count = m.extra_out_count;
  *e = a;
  return {};
}

Status validate(const MetadataArgs& m, ExpandArgs* expansion) {
  if (Status s = to_expand_args(m, expansion); !s.ok()) return s;
  Status s = validate(*expansion);
  if (s.ok()) return s;
  return Status::invalid_argument(builder_names(s.message(), m.mode));
}

Status build_metadata_cpu(const MetadataArgs& m) {
  ExpandArgs a;
  if (Status s = validate(m, &a); !s.ok()) return s;
  detail::expand_cpu_validated(a);
  return {};
}

Status build_metadata_cuda(const MetadataArgs& m, cudaStream_t stream) {
  ExpandArgs a;
  if (Status s = validate(m, &a); !s.ok()) return s;
  return detail::expand_cuda_validated(a, stream);
}

}  // namespace specmeta
