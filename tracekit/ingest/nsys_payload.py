"""Decode NCCL message sizes from NVTX binary payloads, vectorised with NumPy.

``nsys export --include-blobs=true`` fills ``NVTX_EVENTS.binaryData``. A blob
is a 32-byte header (domainId u64, schemaId u64, payloadSize u64,
payloadOffset u64, little-endian) followed by the payload, which begins
``payloadOffset`` bytes after the header and is laid out as the schema's
entries in ``NVTX_PAYLOAD_SCHEMA_ENTRIES`` describe (``offset`` column). NCCL
registers its schemas with an entry named ``Message size [bytes]`` (a size_t,
8 bytes). Schema ids are per NVTX domain, so a schema is keyed by (domainId,
schemaId). An entry whose offset the export leaves NULL is not decoded (since
NCCL 2.23 the payload starts with an 8-byte communicator id, so offset 0 would
read that id). Verified against this documented layout only: the real exports
at hand were made without blobs. Anything that does not fit gives NULL, never
a guess.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HEADER_BYTES = 32
MESSAGE_SIZE_ENTRY = "Message size [bytes]"


def _u64(data: np.ndarray, positions: np.ndarray) -> np.ndarray:
    index = positions[:, None] + np.arange(8)
    return np.ascontiguousarray(data[index]).view("<u8").ravel()


def message_sizes(blobs: pa.Array, size_offsets: dict[tuple[int, int], int]) -> pa.Array:
    """Message size per blob (int64, NULL where absent or undecodable).

    ``size_offsets`` maps a (domainId, schemaId) to the byte offset of its
    message-size entry inside the payload.
    """
    n = len(blobs)
    if n == 0 or not size_offsets or blobs.null_count == n:
        return pa.nulls(n, pa.int64())
    filled = pc.fill_null(blobs.cast(pa.large_binary()), b"")
    offsets_buf, data_buf = filled.buffers()[1], filled.buffers()[2]
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[filled.offset : filled.offset + n + 1]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    starts, lengths = offsets[:-1], np.diff(offsets)
    out = np.zeros(n, dtype=np.int64)
    valid = lengths >= HEADER_BYTES
    rows = np.nonzero(valid)[0]
    if rows.size:
        base = starts[rows]
        domain = _u64(data, base)
        schema = _u64(data, base + 8)
        payload_size = _u64(data, base + 16)
        payload_offset = _u64(data, base + 24)
        keys = sorted(size_offsets)
        key_domain = np.array([k[0] for k in keys], dtype=np.uint64)
        key_schema = np.array([k[1] for k in keys], dtype=np.uint64)
        entry = np.array([size_offsets[k] for k in keys], dtype=np.uint64)
        match = (domain[:, None] == key_domain) & (schema[:, None] == key_schema)
        known = match.any(axis=1)
        entry_off = entry[match.argmax(axis=1)]
        limit = np.minimum(payload_size, (lengths[rows] - HEADER_BYTES).astype(np.uint64))
        fits = known & (payload_offset + entry_off + 8 <= limit)
        good = rows[fits]
        if good.size:
            pos = (
                starts[good]
                + HEADER_BYTES
                + payload_offset[fits].astype(np.int64)
                + entry_off[fits].astype(np.int64)
            )
            values = _u64(data, pos)
            ok = values < np.uint64(1 << 62)
            out[good[ok]] = values[ok].astype(np.int64)
            valid[good[~ok]] = False
            valid[rows[~fits]] = False
        else:
            valid[rows] = False
    return pa.array(out, type=pa.int64(), mask=~valid)
