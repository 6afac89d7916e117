#!/usr/bin/env python3
# Hostile datagrams at a WireGuard port, and what came back, as one line of JSON on stdout.
# Used by the bridge's and `sluice wg up`'s bad-input tests (Tests/BridgeDaemonTests, Tests/TunnelTests).
#
#   wg-attack.py HOST PORT RESPONDER_PUBLIC_KEY_BASE64 [REPLAY_HEX ...]
#
# Sends: garbage (no WireGuard type), truncated initiations and transports, initiations whose mac1
# is for another responder's key, the given transport messages again (replays), then a flood of
# 400 initiations with a valid mac1 and no mac2. mac1 is computed here independently, with
# Python's BLAKE2s: MAC(HASH("mac1----" || S_pub), msg_alpha). Counts the replies: cookie replies
# (type 3, 64 bytes) and whether each names one of the flood's sender indices.
import base64, hashlib, json, os, socket, sys, time
host, port, pub, replays = sys.argv[1], int(sys.argv[2]), base64.b64decode(sys.argv[3]), sys.argv[4:]
dst = (host, port)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 0))
def initiation(responder):
    m = bytearray(os.urandom(148)); m[0:4] = b"\x01\x00\x00\x00"
    key = hashlib.blake2s(b"mac1----" + responder).digest()
    m[116:132] = hashlib.blake2s(bytes(m[:116]), key=key, digest_size=16).digest()
    m[132:148] = bytes(16)
    return bytes(m)
sent = {"garbage": 0, "truncated": 0, "wrong-key": 0, "replayed": 0, "flood": 0}
for i in range(60):                                       # garbage: no WireGuard type, random sizes
    d = bytearray(os.urandom(1 + (i * 37) % 300)); d[0] = 5 + i % 250
    s.sendto(bytes(d), dst); sent["garbage"] += 1
good = initiation(pub)
for n in (4, 31, 64, 100, 147):                           # truncated initiations and transports
    s.sendto(good[:n], dst); s.sendto(b"\x04\x00\x00\x00" + bytes(n % 28), dst); sent["truncated"] += 2
for _ in range(20):                                       # mac1 for some other responder's key
    s.sendto(initiation(os.urandom(32)), dst); sent["wrong-key"] += 1
for hexed in replays:                                     # transport messages already delivered
    s.sendto(bytes.fromhex(hexed.replace(":", "")), dst); sent["replayed"] += 1
senders = set()
for _ in range(400):                                      # a flood with valid mac1 and no mac2
    m = initiation(pub); senders.add(m[4:8]); s.sendto(m, dst); sent["flood"] += 1
s.settimeout(1.0)
replies = {"cookie": 0, "cookie-for-our-index": 0, "other": 0}
end = time.time() + 3
while time.time() < end:
    try:
        d, _ = s.recvfrom(2048)
    except socket.timeout:
        break
    if len(d) == 64 and d[0:4] == b"\x03\x00\x00\x00":
        replies["cookie"] += 1
        if d[4:8] in senders: replies["cookie-for-our-index"] += 1
    else:
        replies["other"] += 1
print(json.dumps({"sent": sent, "replies": replies}))
