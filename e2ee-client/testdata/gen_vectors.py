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
SALT = b"monkeythorn-meet/e2ee/v2/room/"
FRAME = b"monkeythorn-meet/e2ee/v2/frame/"
MESSAGE = b"monkeythorn-meet/e2ee/v2/message"
SAFETY = b"monkeythorn-meet/e2ee/v2/safety-code"
KINDS = {"profile": 1, "chat": 2}
REPLAY_WINDOW = 128
MAX_PREFIXES = 64


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def secret(link, room):
    return hashlib.pbkdf2_hmac("sha256", b64d(link), SALT + room.encode(), ITER, 32)


def hkdf(sec, info, n, salt=None):
    # salt=None is RFC 5869's default: HashLen zero bytes, same as an empty salt.
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=salt, info=info).derive(sec)


def frame_key(sec, sender, source, join_salt):
    return hkdf(sec, FRAME + source.encode() + b"/" + sender.encode(), 16, join_salt)


def safety(sec):
    n = int.from_bytes(hkdf(sec, SAFETY, 8), "big") % 10**16
    d = "%016d" % n
    return " ".join(d[i:i + 4] for i in range(0, 16, 4))


def seal(mkey, sender, kind, join_salt, counter, iv, text):
    header = bytes([2, KINDS[kind]]) + join_salt + counter.to_bytes(8, "big")
    return b64e(header + iv + AESGCM(mkey).encrypt(iv, text.encode(), header + sender.encode()))


class ReplayWindow:
    """docs/e2ee.md 4.1, written as a bit set per prefix."""

    def __init__(self):
        self.prefixes = {}

    def fresh(self, iv):
        prefix, c = iv[:8], int.from_bytes(iv[8:], "big")
        if prefix not in self.prefixes:
            if len(self.prefixes) >= MAX_PREFIXES:
                return False
            self.prefixes[prefix] = [c, {c}]
            return True
        top, seen = self.prefixes[prefix]
        if c > top:
            self.prefixes[prefix] = [c, {x for x in seen if x > c - REPLAY_WINDOW} | {c}]
            return True
        if top - c >= REPLAY_WINDOW or c in seen:
            return False
        seen.add(c)
        return True


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
JSALT = bytes(range(0x30, 0x40))
JSALT2 = bytes(range(0x40, 0x50))


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
            "senders": [{"id": s, "source": src, "join_salt": js.hex(), "frame_key": frame_key(sec, s, src, js).hex()}
                        for s in (SENDER, SENDER2) for src in ("microphone", "camera", "screen") for js in (JSALT, JSALT2)],
        })

    fkey = frame_key(secret(LINK, ROOM), SENDER, "camera", JSALT)
    akey = frame_key(secret(LINK, ROOM), SENDER, "microphone", JSALT)
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
        source = "microphone" if codec == "opus" else "camera"
        enc = encrypt(akey if codec == "opus" else fkey, codec, kf, the_iv, idx, f)
        clear, rest = split(codec, kf, f)
        frames.append({
            "name": name, "link_key": LINK, "room": ROOM, "sender": SENDER, "source": source, "join_salt": JSALT.hex(),
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

    def bad(name, codec, f, reason, sender=SENDER, source=None, join_salt=JSALT):
        source = source or ("microphone" if codec == "opus" else "camera")
        tampered.append({"name": name, "link_key": LINK, "room": ROOM, "sender": sender, "source": source,
                         "join_salt": join_salt.hex(), "codec": codec, "frame": f.hex(), "error": reason})

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
    # v1 let this one through; v2 accepts nothing the server made.
    bad("opus injected silence", "opus", bytes.fromhex("f8fffe00ff"), "injected")
    bad("vp8 camera frame as screen", "vp8", e_vp8k, "auth", source="screen")
    bad("opus frame as camera", "opus", e_opus, "auth", source="camera")
    bad("vp8 frame of another join", "vp8", e_vp8k, "auth", join_salt=JSALT2)

    # Replay window: one sequence of IVs in arrival order, each fresh or not.
    win = ReplayWindow()
    replay = []
    p1, p2 = bytes(range(8)), bytes(range(8, 16))

    def arrive(prefix, c):
        the_iv = prefix + c.to_bytes(4, "big")
        replay.append({"iv": the_iv.hex(), "fresh": win.fresh(the_iv)})

    for c in [0, 1, 2, 2, 1, 5, 4, 4, 3, 200, 73, 72, 100, 199, 200, 201, 0xFFFFFFFF, 0xFFFFFF80, 0xFFFFFF7F]:
        arrive(p1, c)
    for c in [7, 7, 6]:
        arrive(p2, c)
    for k in range(MAX_PREFIXES - 2):
        arrive(bytes([0xAA, k]) + bytes(6), 0)
    arrive(bytes([0xBB]) + bytes(7), 0)  # one prefix too many: refused
    arrive(p1, 0xFFFFFFFE)
    assert [r["fresh"] for r in replay[:9]] == [True, True, True, False, False, True, True, False, True]

    sec = secret(LINK, ROOM)
    mkey = hkdf(sec, MESSAGE, 16)
    messages = []
    for sender, kind, js, counter, text, miv in [
        (SENDER, "profile", JSALT, 0, '{"name":"Zoë 👋 — display name","ts":1767225600000}', bytes(range(12))),
        (SENDER, "chat", JSALT, 1, "hello, room", bytes(range(12, 24))),
        (SENDER2, "chat", JSALT2, 2**53 - 1, "", bytes(12)),
    ]:
        messages.append({"link_key": LINK, "room": ROOM, "sender": sender, "kind": kind, "join_salt": js.hex(),
                         "counter": counter, "iv": miv.hex(), "plaintext": text,
                         "sealed": seal(mkey, sender, kind, js, counter, miv, text)})
    good = b64d(messages[1]["sealed"])

    def badm(name, sealed, sender=SENDER, kind="chat"):
        return {"name": name, "sender": sender, "kind": kind, "sealed": sealed}

    bad_messages = [
        badm("flipped ciphertext", b64e(flip(good, 40))),
        badm("flipped tag", b64e(flip(good, len(good) - 1))),
        badm("flipped version", b64e(flip(good, 0, 3))),
        badm("flipped kind", b64e(flip(good, 1, 3))),
        badm("flipped join salt", b64e(flip(good, 5))),
        badm("flipped counter", b64e(flip(good, 25))),
        badm("flipped iv", b64e(flip(good, 28))),
        badm("truncated", b64e(good[:40])),
        badm("not base64url", "hello+world/=="),
        badm("moved to another sender", messages[1]["sealed"], sender=SENDER2),
        badm("chat read as a profile", messages[1]["sealed"], kind="profile"),
        badm("profile read as chat", messages[0]["sealed"], kind="chat"),
        badm("v1 message", b64e(b"\x01" + bytes(12) + AESGCM(mkey).encrypt(bytes(12), b"hi", b"\x01"))),
        badm("other room", seal(hkdf(secret(LINK, ROOM2), MESSAGE, 16), SENDER, "chat", JSALT, 1, bytes(12), "hi")),
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
        "spec": "docs/e2ee.md v2",
        "pbkdf2_iterations": ITER,
        "replay_window": REPLAY_WINDOW, "max_prefixes": MAX_PREFIXES,
        "keys": keys, "frames": frames, "tampered": tampered, "replay": replay,
        "messages": messages, "bad_messages": bad_messages, "bad_keys": bad_keys,
    }, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
