"""The demo's workload: the synthetic speculative-decoding run (requests that finish and join,
per-request acceptance rates), JSON-lines traces (read, validated, written), and the truth every
implementation is checked against: an independent NumPy computation of SPEC section 3."""

from __future__ import annotations

import json

import numpy as np

MEAN_ACCEPT_P = 0.7  # mean chance the target model accepts the next draft token, given it accepted the previous
ACCEPT_P_SPREAD = 10.0  # Beta(a, b) with a + b = this: how much requests differ in how predictable they are
MIN_NEW, MAX_NEW = 16, 256  # tokens a request generates before it finishes
JOIN_P = 0.5  # chance that a free slot takes a waiting request at each step
MAX_TRACE_BS = 65536
MODES = ("target_verify", "draft_extend")


# --- the workload: synthetic, or a trace ----------------------------------------------------------------


class Batch:
    """Up to --bs live requests: context lengths, tokens still to generate, how predictable each one is."""

    def __init__(self, args, rng):
        self.args, self.rng = args, rng
        self.seq = np.zeros(0, np.int64)
        self.left = np.zeros(0, np.int64)
        self.accept_p = np.zeros(0)
        self.finished = self.joined = 0
        self.join(args.bs)

    def join(self, k):
        a = self.args
        b = MEAN_ACCEPT_P * ACCEPT_P_SPREAD
        self.seq = np.concatenate([self.seq, self.rng.integers(a.min_ctx, a.max_ctx, size=k, endpoint=True)])
        self.left = np.concatenate([self.left, self.rng.integers(MIN_NEW, MAX_NEW, size=k, endpoint=True)])
        self.accept_p = np.concatenate([self.accept_p, self.rng.beta(b, ACCEPT_P_SPREAD - b, size=k)])
        self.joined += k

    def draw_accepts(self):
        # Drafts are accepted in order until the first rejection, and the target adds one token of its own:
        # 1..N tokens, P(k) = p^(k-1) (1 - p) below N, with p the request's own acceptance rate.
        p = np.clip(self.accept_p, 1e-3, 1 - 1e-3)
        return np.minimum(self.rng.geometric(1 - p), self.args.n).astype(np.int32)

    def grow(self, accepts):
        self.seq = self.seq + accepts
        self.left = self.left - accepts

    def turnover(self):
        """Finished requests leave; each free slot takes a waiting request with chance JOIN_P (never empty)."""
        keep = self.left > 0
        self.finished += int((~keep).sum())
        self.seq, self.left, self.accept_p = self.seq[keep], self.left[keep], self.accept_p[keep]
        free = self.args.bs - len(self.seq)
        k = int(self.rng.binomial(free, JOIN_P)) if free else 0
        self.join(max(k, 1 if len(self.seq) == 0 else 0))


def synthetic(args, rng):
    """The default workload: (batches as dicts with mode, n, seq_lens, accept_lens in draft_extend; the Batch)."""
    batch = Batch(args, rng)
    batches, accepts = [], None
    for step in range(args.steps):
        if step % 2 == 0:
            accepts = batch.draw_accepts()  # the verify pass decides how many drafts each request keeps
            batches.append(dict(mode="target_verify", n=args.n, seq_lens=batch.seq.copy()))
        else:
            batch.grow(accepts)  # the accepted tokens join the context; the draft model extends over them
            batches.append(dict(mode="draft_extend", n=args.n, seq_lens=batch.seq.copy(), accept_lens=accepts))
            batch.turnover()
    return batches, batch


def read_trace(path, default_n):
    """The batches of a JSON-lines trace, validated; errors name the line and the field."""
    batches = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            where = f"{path}:{number}"
            try:
                item = json.loads(text)
            except json.JSONDecodeError as e:
                raise SystemExit(f"{where}: expected one JSON object per line, got invalid JSON ({e.msg})")
            batches.append(check_batch(item, where, default_n))
    if not batches:
        raise SystemExit(f"{path}: expected at least one batch, got none")
    return batches


def _int_list(item, key, where, lo):
    values = item.get(key)
    if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise SystemExit(f"{where}: {key}: expected a list of integers, got {json.dumps(values)[:80]}")
    if any(v < lo for v in values):
        raise SystemExit(f"{where}: {key}: expected every value >= {lo}, got {min(values)}")
    return np.array(values, dtype=np.int64)


def check_batch(item, where, default_n):
    if not isinstance(item, dict):
        raise SystemExit(f"{where}: expected a JSON object, got {type(item).__name__}")
    mode = item.get("mode")
    if mode not in MODES:
        raise SystemExit(f"{where}: mode: expected one of {', '.join(MODES)}, got {mode!r}")
    n = item.get("n", default_n)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise SystemExit(f"{where}: n: expected an integer >= 1, got {n!r}")
    seq = _int_list(item, "seq_lens", where, 0)
    if not 1 <= len(seq) <= MAX_TRACE_BS:
        raise SystemExit(f"{where}: seq_lens: expected 1 to {MAX_TRACE_BS} requests, got {len(seq)}")
    if int(seq.max()) + n > np.iinfo(np.int32).max:
        raise SystemExit(f"{where}: seq_lens: expected values + n to fit int32, got {int(seq.max())} with n={n}")
    batch = dict(mode=mode, n=n, seq_lens=seq)
    if mode == "target_verify":
        if "accept_lens" in item:
            raise SystemExit(f"{where}: accept_lens: expected none for target_verify (every request has n rows)")
        return batch
    acc = _int_list(item, "accept_lens", where, 0)
    if len(acc) != len(seq):
        raise SystemExit(f"{where}: accept_lens: expected {len(seq)} values (one per seq_lens entry), got {len(acc)}")
    bad = np.flatnonzero(acc > np.minimum(seq, n))
    if len(bad):
        b = int(bad[0])
        raise SystemExit(f"{where}: accept_lens[{b}]: expected at most min(n, seq_lens[{b}]) = "
                         f"{min(n, int(seq[b]))}, got {int(acc[b])}")
    batch["accept_lens"] = acc.astype(np.int32)
    return batch


def write_trace(path, batches):
    with open(path, "w") as f:
        for b in batches:
            item = dict(mode=b["mode"], n=b["n"], seq_lens=[int(v) for v in b["seq_lens"]])
            if b["mode"] == "draft_extend":
                item["accept_lens"] = [int(v) for v in b["accept_lens"]]
            f.write(json.dumps(item) + "\n")


# --- the truth: an independent NumPy computation --------------------------------------------------------


def truth(batch):
    """(seqlens_expanded over the live rows, qo per request, kv per request) from SPEC section 3."""
    n, seq = batch["n"], batch["seq_lens"].astype(np.int64)
    if batch["mode"] == "target_verify":
        qo, kv = np.full_like(seq, n), seq + n
    else:
        qo, kv = batch["accept_lens"].astype(np.int64), seq
    start = np.repeat(kv - qo + 1, qo)
    j = np.arange(int(qo.sum())) - np.repeat(np.cumsum(qo) - qo, qo)
    return (start + j).astype(np.int32), qo, kv
