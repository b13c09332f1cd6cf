"""ARS-5, the generator of the multi-spin-coded kernel, against a plain-Python AES.

The reference below is written from FIPS-197 (S-box from the inverse in GF(2⁸) and the affine map,
ShiftRows, MixColumns) and checked on the standard's AES-128 example; the compiled
implementations (portable C, AES-NI, VAES: whichever this CPU runs) must give its ARS-5 words
exactly (``backends/ars5.h``).
"""
import numpy as np
import pytest

_kernels = pytest.importorskip("inverse_ising.backends._kernels",
                               reason="the compiled kernels are not built (INVERSE_ISING_NO_KERNELS=1)")

MASK64 = (1 << 64) - 1
WEYL = (0x9E3779B97F4A7C15, 0xBB67AE8584CAA73B)


def gf_mul(a, b):
    """Product in GF(2⁸) modulo x⁸ + x⁴ + x³ + x + 1."""
    p = 0
    while b:
        if b & 1:
            p ^= a
        a = ((a << 1) ^ (0x1B if a & 0x80 else 0)) & 0xFF
        b >>= 1
    return p


def _sbox():
    inverse = [0] + [next(y for y in range(1, 256) if gf_mul(x, y) == 1) for x in range(1, 256)]
    rotl = lambda v, r: ((v << r) | (v >> (8 - r))) & 0xFF  # noqa: E731
    return [inv ^ rotl(inv, 1) ^ rotl(inv, 2) ^ rotl(inv, 3) ^ rotl(inv, 4) ^ 0x63 for inv in inverse]


SBOX = _sbox()


def aes_round(state, key, mix=True):
    """One AES round on 16 bytes (byte r + 4c = row r, column c): SubBytes, ShiftRows,
    MixColumns (unless the last round), AddRoundKey."""
    t = [SBOX[state[r + 4 * ((c + r) % 4)]] for c in range(4) for r in range(4)]
    out = []
    for c in range(4):
        a0, a1, a2, a3 = t[4 * c:4 * c + 4]
        column = [gf_mul(a0, 2) ^ gf_mul(a1, 3) ^ a2 ^ a3, a0 ^ gf_mul(a1, 2) ^ gf_mul(a2, 3) ^ a3,
                  a0 ^ a1 ^ gf_mul(a2, 2) ^ gf_mul(a3, 3), gf_mul(a0, 3) ^ a1 ^ a2 ^ gf_mul(a3, 2)] if mix else [a0, a1, a2, a3]
        out += column
    return [x ^ k for x, k in zip(out, key)]


def aes128_encrypt(block, key):
    """FIPS-197 AES-128: key expansion (section 5.2), then ten rounds."""
    words = [list(key[4 * i:4 * i + 4]) for i in range(4)]
    rcon = 1
    for i in range(4, 44):
        temp = list(words[-1])
        if i % 4 == 0:
            temp = [SBOX[b] for b in temp[1:] + temp[:1]]
            temp[0] ^= rcon
            rcon = gf_mul(rcon, 2)
        words.append([a ^ b for a, b in zip(words[i - 4], temp)])
    round_keys = [sum(words[4 * r:4 * r + 4], []) for r in range(11)]
    state = [a ^ b for a, b in zip(block, round_keys[0])]
    for r in range(1, 11):
        state = aes_round(state, round_keys[r], mix=r < 10)
    return bytes(state)


def ars5_words(key, counter, n_words):
    """Reference ARS-5: block n = five rounds of (n mod 2⁶⁴) ⊕ k₀ with keys kᵢ = k₀ + i·W (64-bit
    halves), the last without MixColumns; word w = blocks counter + 2w, counter + 2w + 1."""
    to_bytes = lambda lo, hi: list(lo.to_bytes(8, "little") + hi.to_bytes(8, "little"))  # noqa: E731
    keys = [to_bytes((key[0] + i * WEYL[0]) & MASK64, (key[1] + i * WEYL[1]) & MASK64) for i in range(6)]
    out = []
    for b in range(2 * n_words):
        state = [x ^ k for x, k in zip(to_bytes((counter + b) & MASK64, 0), keys[0])]
        for r in range(1, 6):
            state = aes_round(state, keys[r], mix=r < 5)
        out += [int.from_bytes(bytes(state[:8]), "little"), int.from_bytes(bytes(state[8:]), "little")]
    return np.array(out, dtype=np.uint64).reshape(n_words, 4)


def test_reference_aes_matches_fips_197():
    """FIPS-197 appendix C.1: AES-128 of 00112233…eeff under the key 000102…0f."""
    out = aes128_encrypt(bytes.fromhex("00112233445566778899aabbccddeeff"), bytes(range(16)))
    assert out.hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"


@pytest.mark.parametrize("impl", _kernels.ARS5_AVAILABLE)
@pytest.mark.parametrize("key, counter", [((0, 0), 0), ((0x0123456789ABCDEF, 0xFEDCBA9876543210), 12345),
                                          ((7, 11), 2**64 - 3)])  # the last one wraps the 64-bit counter
def test_compiled_ars5_matches_reference(impl, key, counter):
    words = _kernels.ars5_words(np.array(key, dtype=np.uint64), counter, 5, impl)
    np.testing.assert_array_equal(words, ars5_words(key, counter, 5))


def test_fast_implementation_is_used_where_the_cpu_has_it():
    assert _kernels.ARS5_BEST == _kernels.ARS5_AVAILABLE[-1]
    assert "portable" in _kernels.ARS5_AVAILABLE
