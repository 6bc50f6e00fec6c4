#!/usr/bin/env python3
"""Writes vectors.json: an independent reference implementation of
docs/e2ee.md in Python (hashlib + the `cryptography` package), so the
JavaScript and Go implementations are both checked against a third one.

Run: python3 e2ee-client/testdata/gen_vectors.py > e2ee-client/testdata/vectors.json
Fixed inputs make the output deterministic.
"""
import base64
import hashlib
import json
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ITER = 100000
SALT = b"monkeythorn-meet/e2ee/v1/room/"
FRAME = b"monkeythorn-meet/e2ee/v1/frame/"
MESSAGE = b"monkeythorn-meet/e2ee/v1/message"
SAFETY = b"monkeythorn-meet/e2ee/v1/safety-code"


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def secret(link, room):
    return hashlib.pbkdf2_hmac("sha256", b64d(link), SALT + room.encode(), ITER, 32)


def hkdf(sec, info, n):
    # salt=None is RFC 5869's default: HashLen zero bytes, same as an empty salt.
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=None, info=info).derive(sec)


def safety(sec):
    n = int.from_bytes(hkdf(sec, SAFETY, 8), "big") % 100000000
    d = "%08d" % n
    return d[:4] + " " + d[4:]


def h264_clear(f):
    nals, starts = [], []
    i = 0
    while i + 2 < len(f):
        if f[i] == 0 and f[i + 1] == 0 and f[i + 2] == 1:
            s = i
            while s > 0 and f[s - 1] == 0 and (not starts or s - 1 >= nals[-1] + 1):
                s -= 1
            starts.append(s)
            nals.append(i + 3)
            i += 4  # resume after the NAL header
        else:
            i += 1
    if not nals or starts[0] != 0 or nals[0] >= len(f):
        return b"", 0
    last = 0
    while last < len(nals) and nals[last] < len(f):
        if 1 <= (f[nals[last]] & 0x1F) <= 5:
            break
        last += 1
    if last == len(nals) or nals[last] >= len(f):
        last = 0
    out = bytearray()
    for k in range(last + 1):
        end = nals[k] + 1 if k == last else starts[k + 1]
        out += b"\x00\x00\x00\x01" + f[nals[k]:end]
    return bytes(out), nals[last] + 1


def zeros_at_end(b):
    z = 0
    for x in reversed(b):
        if x != 0 or z == 2:
            break
        z += 1
    return z


def escape(src, zeros):
    out = bytearray()
    for b in src:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    if out and out[-1] == 0:
        out.append(3)
    return bytes(out)


def split(codec, key_frame, f):
    if codec == "h264":
        return h264_clear(f)
    n = 1 if codec == "opus" else (10 if key_frame else 3)
    n = min(n, len(f))
    return f[:n], n


def encrypt(key, codec, key_frame, iv, idx, f):
    if not f:
        return f
    clear, rest = split(codec, key_frame, f)
    prot = AESGCM(key).encrypt(iv, f[rest:], clear) + iv + bytes([12, idx])
    if codec == "h264":
        prot = escape(prot, zeros_at_end(clear))
    return clear + prot


def has_start_code(b):
    return b"\x00\x00\x01" in b


LINK = "AAECAwQFBgcICQoLDA0ODw"  # bytes 00..0f
LINK2 = "_-7dzLuqmYh3ZlVEMyIRAA"  # bytes ff ee dd ... 00
ROOM = "abcdefghj"
ROOM2 = "z23456789"
SENDER = "pA1b2C3d4E5f6G7h8I9j0K"
SENDER2 = "q_-ZYXWVUTSRQPONMLKJIH"


def main():
    assert b64e(b64d(LINK)) == LINK and len(b64d(LINK)) == 16
    assert b64e(b64d(LINK2)) == LINK2 and len(b64d(LINK2)) == 16
    keys = []
    for link, room in [(LINK, ROOM), (LINK, ROOM2), (LINK2, ROOM)]:
        sec = secret(link, room)
        keys.append({
            "link_key": link, "room": room,
            "message_key": hkdf(sec, MESSAGE, 16).hex(),
            "safety_code": safety(sec),
            "senders": [{"id": s, "frame_key": hkdf(sec, FRAME + s.encode(), 16).hex()} for s in (SENDER, SENDER2)],
        })

    fkey = hkdf(secret(LINK, ROOM), FRAME + SENDER.encode(), 16)
    iv = bytes(range(0xA0, 0xAC))
    vp8_key = bytes.fromhex("5043009d012a8002e001") + bytes(range(40))
    vp8_delta = bytes.fromhex("b10200") + bytes(range(1, 33))
    opus = bytes.fromhex("fc") + bytes(range(0x10, 0x40))
    # SPS, PPS (3-byte start code), IDR slice whose data contains 00 00 01.
    h264 = (bytes.fromhex("0000000167428029") + bytes.fromhex("00000168ce3c80")
            + bytes.fromhex("0000000165888400000100000300"))
    h264_delta = bytes.fromhex("00000001419a") + bytes(8)
    frames = []

    def add(name, codec, kf, f, idx=0, the_iv=iv):
        enc = encrypt(fkey, codec, kf, the_iv, idx, f)
        clear, rest = split(codec, kf, f)
        frames.append({
            "name": name, "link_key": LINK, "room": ROOM, "sender": SENDER,
            "codec": codec, "key_frame": kf, "iv": the_iv.hex(), "key_index": idx,
            "plaintext": f.hex(), "encrypted": enc.hex(),
            "decrypted": (clear + f[rest:]).hex() if f else "",
        })
        if codec == "h264" and f:
            assert not has_start_code(enc[len(clear):]), name
        return enc

    e_vp8k = add("vp8 key frame", "vp8", True, vp8_key)
    add("vp8 delta frame", "vp8", False, vp8_delta, idx=7)
    e_opus = add("opus", "opus", False, opus)
    add("opus TOC only", "opus", False, b"\xf8")
    e_h264 = add("h264 idr with emulation prevention", "h264", True, h264)
    add("h264 delta, zero payload, iv with zeros", "h264", False, h264_delta, idx=0, the_iv=bytes(12))
    add("vp8 empty frame", "vp8", False, b"")
    add("h264 no start code", "h264", False, bytes.fromhex("deadbeef"))
    add("h264 zero NAL header before a start code", "h264", False, bytes.fromhex("00000001000000014130"))
    add("h264 frame ending in a start code", "h264", False, bytes.fromhex("0000000167000001"))

    def flip(b, i, m=1):
        b = bytearray(b)
        b[i] ^= m
        return bytes(b)

    tampered = []

    def bad(name, codec, f, reason, sender=SENDER):
        tampered.append({"name": name, "link_key": LINK, "room": ROOM, "sender": sender,
                         "codec": codec, "frame": f.hex(), "error": reason})

    bad("vp8 flipped tag byte", "vp8", flip(e_vp8k, len(e_vp8k) - 15), "auth")
    bad("vp8 flipped clear header byte", "vp8", flip(e_vp8k, 5), "auth")
    bad("vp8 flipped ciphertext byte", "vp8", flip(e_vp8k, 12), "auth")
    bad("vp8 flipped iv byte", "vp8", flip(e_vp8k, len(e_vp8k) - 3), "auth")
    bad("vp8 key frame bit flipped to delta", "vp8", flip(e_vp8k, 0), "auth")
    bad("vp8 wrong key index", "vp8", e_vp8k[:-1] + b"\x01", "unknown-key")
    bad("vp8 wrong iv length", "vp8", e_vp8k[:-2] + b"\x0b\x00", "malformed")
    bad("vp8 truncated by one byte", "vp8", e_vp8k[:-1], "malformed")
    bad("vp8 truncated to 20 bytes", "vp8", e_vp8k[:20], "malformed")
    bad("vp8 other sender's key", "vp8", e_vp8k, "auth", sender=SENDER2)
    bad("opus flipped tag byte", "opus", flip(e_opus, len(e_opus) - 15), "auth")
    bad("opus flipped TOC", "opus", flip(e_opus, 0), "auth")
    bad("opus one byte", "opus", b"\xfc", "malformed")
    bad("h264 flipped slice header", "h264", flip(e_h264, e_h264.index(b"\x65") , 0x20), "auth")
    bad("h264 flipped sps byte", "h264", flip(e_h264, 6), "auth")
    bad("h264 truncated", "h264", e_h264[:-4], "malformed")
    bad("vp8 key index 255 with ciphertext", "vp8", e_vp8k[:-1] + b"\xff", "injected")
    bad("vp8 injected silence-like body", "vp8", bytes.fromhex("f9fffe00ff"), "injected")
    bad("opus injected non-silence", "opus", bytes.fromhex("fc01020300ff"), "injected")
    bad("opus injected silence with iv length 12", "opus", bytes.fromhex("f8fffe0cff"), "injected")

    injected = [{"name": "opus silence", "codec": "opus", "frame": "f8fffe00ff", "body": "f8fffe"}]

    sec = secret(LINK, ROOM)
    mkey = hkdf(sec, MESSAGE, 16)
    messages = []
    for text, miv in [("hello, room", bytes(range(12))), ("Zoë 👋 — display name", bytes(range(12, 24))), ("", bytes(12))]:
        raw = b"\x01" + miv + AESGCM(mkey).encrypt(miv, text.encode(), b"\x01")
        messages.append({"link_key": LINK, "room": ROOM, "iv": miv.hex(), "plaintext": text, "sealed": b64e(raw)})
    good = b64d(messages[0]["sealed"])
    bad_messages = [
        {"name": "flipped ciphertext", "sealed": b64e(flip(good, 14))},
        {"name": "flipped tag", "sealed": b64e(flip(good, len(good) - 1))},
        {"name": "flipped version", "sealed": b64e(flip(good, 0, 3))},
        {"name": "flipped iv", "sealed": b64e(flip(good, 3))},
        {"name": "truncated", "sealed": b64e(good[:20])},
        {"name": "not base64url", "sealed": "hello+world/=="},
        {"name": "other room", "sealed": b64e(b"\x01" + bytes(12) + AESGCM(hkdf(secret(LINK, ROOM2), MESSAGE, 16)).encrypt(bytes(12), b"hi", b"\x01"))},
    ]
    bad_keys = [
        {"name": "short link key", "link_key": "AAECAwQFBgcICQoLDA0OD", "room": ROOM},
        {"name": "non-canonical link key", "link_key": "AAECAwQFBgcICQoLDA0ODx", "room": ROOM},
        {"name": "padded link key", "link_key": "AAECAwQFBgcICQoLDA0ODw==", "room": ROOM},
        {"name": "standard base64 link key", "link_key": "AAECAwQFBgcICQoLDA0O+w", "room": ROOM},
        {"name": "room code with i", "link_key": LINK, "room": "abcdefghi"},
        {"name": "room code too long", "link_key": LINK, "room": "abcdefghjk"},
        {"name": "upper case room code", "link_key": LINK, "room": "ABCDEFGHJ"},
    ]
    json.dump({
        "spec": "docs/e2ee.md v1",
        "pbkdf2_iterations": ITER,
        "keys": keys, "frames": frames, "tampered": tampered, "injected": injected,
        "messages": messages, "bad_messages": bad_messages, "bad_keys": bad_keys,
    }, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
