"""Names of the fault bits of the `status` output (SPEC section 6)."""

from __future__ import annotations

STATUS_BITS = {
    1: "rows needed exceed capacity (first `capacity` rows written)",
    2: "some qo_b > kv_b (lengths clamped at 0)",
    4: "a req_pool_indices entry is outside [0, pool) (its page-table rows not written)",
    8: "a length or prefix sum overflows int32 (saturated)",
    16: "some qo_b < 0 or qo_b > max_qo (treated as 0 rows)",
}


def describe_status(value: int) -> list[str]:
    """The readable meaning of every bit set in a `status` value."""
    value = int(value)
    return [text for bit, text in STATUS_BITS.items() if value & bit]
