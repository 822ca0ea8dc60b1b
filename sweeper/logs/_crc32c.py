"""CRC32C (Castagnoli), as TFRecord framing uses it: of one bytes object, or of many byte ranges at once.

The standard library has no CRC32C, and a pure-Python loop (`crc32c`) runs at a
few MB/s: fine for the reference reader, ~100x too slow for the bulk path. So
`crc32c_ranges` checksums every range of a batch together with numpy, one
32-bit word of all ranges per numpy pass.
"""

from __future__ import annotations

import functools

import numpy as np

from sweeper.logs._bytes import chunks, groups, windows

_POLYNOMIAL = 0x82F63B78  # Castagnoli, bit-reflected
_MASK_DELTA = 0xA282EAD8


def _byte_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLYNOMIAL if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_BYTE_TABLE = _byte_table()


def crc32c(data: bytes) -> int:
    """The CRC32C of ``data``, byte by byte.

    Args:
        data: The bytes to checksum.

    Returns:
        The checksum, an unsigned 32-bit int.
    """
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _BYTE_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The masked CRC32C that TFRecord framing stores: the CRC rotated right by 15 bits, plus a constant.

    Args:
        data: The bytes to checksum.

    Returns:
        The masked checksum, an unsigned 32-bit int.
    """
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def mask(crc: np.ndarray) -> np.ndarray:
    """`masked_crc32c`'s masking, of a uint32 array of CRCs."""
    return ((crc >> 15) | (crc << 17)) + np.uint32(_MASK_DELTA)


def crc32c_ranges(u8: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """CRC32C of each byte range ``u8[start:start + length]``, all at once.

    Ranges are grouped into buckets of similar length and zero-padded on the
    left to the bucket's width: leading zeros leave a CRC register at 0
    unchanged, and the CRC is linear, so the initial value's contribution is
    added back per length from `_zero_run_states`.

    Args:
        u8: The bytes, as a uint8 array.
        starts: Where each range starts.
        lengths: How long each range is.

    Returns:
        The checksums, a uint32 array.
    """
    lengths = lengths.astype(np.int64)
    crc = np.zeros(len(starts), np.uint32)
    if not len(starts):
        return crc
    for width, group in groups(_bucket_widths(lengths)).items():
        for rows in chunks(group, width):
            crc[rows] = _raw_crc(u8, starts[rows] + lengths[rows], lengths[rows], width)
    states = _zero_run_states(1 << int(lengths.max()).bit_length())
    return crc ^ states[lengths] ^ np.uint32(0xFFFFFFFF)


@functools.cache
def _slicing_tables() -> tuple[np.ndarray, np.ndarray]:
    """Two 16-bit tables for slicing-by-4: the low and the high half of a 32-bit word."""
    byte = np.array(_BYTE_TABLE, np.uint32)
    # slices[k][b]: the register after byte b followed by k zero bytes.
    slices = [byte]
    for _ in range(3):
        slices.append((slices[-1] >> 8) ^ byte[slices[-1] & 0xFF])
    index = np.arange(1 << 16, dtype=np.uint32)
    low = slices[3][index & 0xFF] ^ slices[2][index >> 8]
    high = slices[1][index & 0xFF] ^ slices[0][index >> 8]
    return low, high


@functools.cache
def _zero_run_states(size: int) -> np.ndarray:
    """CRC register after k zero bytes from the initial 0xFFFFFFFF, for k < size."""
    states = [0xFFFFFFFF]
    for _ in range(size - 1):
        state = states[-1]
        states.append(_BYTE_TABLE[state & 0xFF] ^ (state >> 8))
    return np.array(states, np.uint32)


def _bucket_widths(lengths: np.ndarray) -> np.ndarray:
    # Multiples of 4 bytes (one 32-bit word per numpy pass). Beyond 256 bytes,
    # multiples of about an eighth of the length, so that long records of
    # varied lengths share a few buckets while padding wastes little.
    bits = np.frexp(np.maximum(lengths, 1).astype(np.float64))[1].astype(np.int64)
    shift = np.where(lengths <= 256, 2, np.maximum(bits - 3, 2))
    return (((lengths - 1) >> shift) + 1) << shift


def _raw_crc(u8: np.ndarray, ends: np.ndarray, lengths: np.ndarray, width: int) -> np.ndarray:
    """CRC register from 0 over each range ending at ``ends``, zero-padded on the left to ``width``."""
    low, high = _slicing_tables()
    data = windows(u8, ends - width, width)
    pad = width - lengths
    most = int(pad.max())
    if most:
        # The window's first bytes belong to the previous range: zero them.
        data[:, :most][np.arange(most) < pad[:, None]] = 0
    crc = np.zeros(len(ends), np.uint32)
    for word in np.ascontiguousarray(data.view("<u4").T):
        crc ^= word
        crc = low[crc & 0xFFFF] ^ high[crc >> 16]
    return crc
