#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/ (run once; the files are committed).

Layouts follow docs/protocol.md; record framing follows fuzz/fuzz_input.h:
mode byte, then records of ctl | time step | length (2 bytes BE) | bytes."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
RX_SESSION = 0x5EED0001
TX_SESSION = 0x5EED0002
TX_NONCE = b"sender02"

DATA, HELLO, HELLO_ACK, PROBE, PROBE_REPLY, REVERSE, NACK, BYE = range(8)
KEYED, RETRANSMIT = 0x01, 0x02


def header(ptype, link, session, flags=0):
    return struct.pack(">BBHI", 0x20 | ptype, flags, link, session)


def data(seq, ts, payload, link=0, session=RX_SESSION, ptype=DATA, flags=0):
    return header(ptype, link, session, flags) + struct.pack(">II", seq, ts) + payload


# A stand-in for an X25519 public key; the harnesses put their own in when told to fix.
EPHEMERAL = bytes(range(0x80, 0xA0))
WALL_US = 1700000000000000


# The default latency budget both ends carry in the handshake; another one is refused.
LATENCY_US = 1000000


def hello(name, nonce, ts, link=0, session=RX_SESSION, wall=WALL_US, latency=LATENCY_US):
    return (header(HELLO, link, session) + nonce + EPHEMERAL +
            struct.pack(">QIIB", wall, ts, latency, len(name)) + name)


def hello_ack(sn, rn, echo, link=0, session=TX_SESSION, latency=LATENCY_US):
    return (header(HELLO_ACK, link, session) + sn + rn + EPHEMERAL + EPHEMERAL[::-1] +
            struct.pack(">II", echo, latency))


def probe(seq, ts, link=0, session=RX_SESSION, rtt=40000, sent_through=0):
    return header(PROBE, link, session) + struct.pack(">IIII", seq, ts, rtt, sent_through)


def probe_reply(seq, echo, received, jitter, link=0, session=TX_SESSION):
    return header(PROBE_REPLY, link, session) + struct.pack(">IIIIII", seq, echo, received,
                                                            jitter, received * 1316, echo)


def nack(ranges, link=0, session=TX_SESSION):
    body = bytes([len(ranges)]) + b"".join(struct.pack(">IH", f, c) for f, c in ranges)
    return header(NACK, link, session) + body


def bye(link=0, session=RX_SESSION):
    return header(BYE, link, session)


def rec(ctl, step, payload):
    return bytes([ctl, step]) + struct.pack(">H", len(payload)) + payload


def write(target, name, blob):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(blob)


def wire_seeds():
    write("wire", "data", data(7, 123456, b"payload"))
    write("wire", "data-retransmit", data(8, 1, b"x", flags=RETRANSMIT))
    # sealed: header, packet number, body (as if encrypted), 16-byte tag
    sealed = data(9, 2, b"ab", flags=KEYED)
    write("wire", "data-keyed", sealed[:8] + struct.pack(">Q", 5) + sealed[8:] + bytes(16))
    write("wire", "hello", hello(b"lte0", b"nonce-01", 99))
    write("wire", "hello-keyed", header(HELLO, 1, 2, KEYED) + b"nonce-01" + EPHEMERAL +
          struct.pack(">QIIB", WALL_US, 5, LATENCY_US, 2) + b"wl" + bytes(16))
    write("wire", "hello-ack", hello_ack(b"nonce-01", b"nonce-02", 99))
    write("wire", "probe", probe(3, 4))
    write("wire", "probe-reply", probe_reply(3, 4, 100, 250))
    write("wire", "reverse", data(1, 2, b"back", ptype=REVERSE))
    write("wire", "nack", nack([(10, 2), (20, 1)]))
    write("wire", "bye", bye())


def receiver_seeds():
    # Mode: bit 0 PSK; bits 1-2 latency index. ctl: 1 sign, 2 fix session, 4 alt address,
    # 8 send reverse. Steps: t < 200 is t ms.
    flow = [rec(0, 20, data(i, 20000 * i, bytes([i]) * 10)) for i in range(5)]
    flow += [rec(0, 50, probe(0, 100000)), rec(0, 250, bye())]
    write("receiver", "flow", bytes([0x02]) + b"".join(flow))
    signed = [rec(0x03, 20, data(i, 20000 * i, bytes([i]) * 10, session=0)) for i in range(5)]
    signed += [rec(0x03, 50, probe(0, 100000, session=0)), rec(0x03, 250, bye(session=0))]
    write("receiver", "flow-psk", bytes([0x03]) + b"".join(signed))
    mixed = [
        rec(0x04, 5, hello(b"wifi", b"sender01", 5000, link=1)),
        rec(0, 10, data(3, 30000, b"three")),
        rec(0x04, 1, data(1, 10000, b"one", link=1)),
        rec(0, 1, data(1, 10000, b"one")),
        rec(0, 2, data(2, 20000, b"two", flags=RETRANSMIT)),
        rec(0x08, 30, data(4, 40000, b"four", link=1)),
        rec(0, 199, data(0xFFFFFFFF, 0xFFFFF000, b"wrap")),
    ]
    write("receiver", "reorder", bytes([0x04]) + b"".join(mixed))
    other = 0x0BADCAFE
    sessions = [
        rec(0x01, 5, hello(b"cell", b"othernon", 1, link=7, session=other)),
        rec(0x03, 5, hello(b"wifi", b"sender01", 2, link=3)),  # fresh: the harness's key
        rec(0x03, 5, data(0, 1, b"on wifi", link=3, session=0)),
        rec(0x01, 5, data(0, 1, b"other", link=7, session=other)),
        rec(0x03, 5, data(0, 1, b"seeded", session=0)),
        rec(0x01, 230, probe(1, 2, link=7, session=other)),
    ]
    write("receiver", "sessions-psk", bytes([0x01]) + b"".join(sessions))


def sender_seeds():
    # Mode: bit 0 PSK; bits 1-3 scheduling mode (mod 4); bits 4-5 latency index.
    # ctl: 1 sign, 2 fix ids and echoes, 4 second link, 8 push media, 0x10 replace link,
    # 0x20 close.
    media = [rec(0x08, 20, b"") for _ in range(3)]
    replies = [
        rec(0x02, 40, probe_reply(0, 0, 3, 100)),
        rec(0x06, 0, probe_reply(0, 0, 2, 900)),
        rec(0x0A, 10, nack([(0, 3)])),
        rec(0x02, 10, data(0, 5, b"reverse", ptype=REVERSE, session=TX_SESSION)),
        rec(0x02, 10, data(0, 5, b"reverse", ptype=REVERSE, session=TX_SESSION)),
    ]
    tail = [rec(0x02, 20, bye(session=TX_SESSION)), rec(0x02, 60, hello_ack(TX_NONCE,
                                                                            b"receiv02", 0))]
    write("sender", "broadcast", bytes([0x00]) + b"".join(media + replies + tail))
    signed = [rec(c | 0x01, t + 0, p[4:]) for c, t, p in
              ((r[0], r[1], r) for r in media + replies + tail)]
    write("sender", "broadcast-psk", bytes([0x21]) + b"".join(signed))
    failing = media + [rec(0x08, 250, b"late"), rec(0x0C, 0, b"m"),
                       rec(0x16, 10, probe_reply(0, 0, 0, 0)), rec(0x28, 10, b"end")]
    write("sender", "roundrobin-failover", bytes([0x12]) + b"".join(failing))
    backup = media + [rec(0x06, 50, probe_reply(0, 0, 1, 5)),
                      rec(0x02, 250, probe_reply(1, 0, 1, 5))]
    write("sender", "backup", bytes([0x36]) + b"".join(backup))


def rtp(seq, ssrc=0x12345670, payload=b"\x47" * 12):
    return struct.pack(">BBHII", 0x80, 33, seq, 1000 + seq, ssrc) + payload


def rist_app(subtype, ssrc, data):
    return struct.pack(">BBHI", 0x80 | subtype, 204, 2 + len(data) // 4, ssrc) + b"RIST" + data


def sr(ssrc=0x12345670):
    return struct.pack(">BBHIQIII", 0x80, 200, 6, ssrc, 0x1111222233334444, 1, 2, 3)


def rr(ssrc=0x5EED):
    return struct.pack(">BBHI", 0x80, 201, 1, ssrc)


def rist_seeds():
    # Mode: the receiver's NACK kind. ctl: 0 RTP in, 1 RTCP in, 2 RTCP to the sender,
    # 3 push into the sender; bits 2-3 the path. Time steps in ms.
    echo = rist_app(2, 0x12345670, struct.pack(">QI", 0x0102030405060708, 0))
    paths = [rec(0x01, 0, sr() + echo), rec(0x05, 1, sr())]
    for seq in (10, 11, 13, 14):
        paths += [rec(0x00, 2, rtp(seq)), rec(0x04, 3, rtp(seq))]
    paths += [rec(0x00, 40, rtp(12, ssrc=0x12345671)), rec(0x00, 250, rtp(15))]
    write("rist", "two-paths", bytes([0x00]) + b"".join(paths))
    nacks = [rec(0x03, 1, b"\x47" * 188) for _ in range(4)]
    nacks += [rec(0x02, 5, rr() + rist_app(0, 0x12345670, struct.pack(">HH", 0, 2))),
              rec(0x02, 5, rr() + struct.pack(">BBHIIHH", 0x81, 205, 3, 0x5EED, 0x12345670,
                                                1, 0)),
              rec(0x02, 5, rr() + echo)]
    write("rist", "sender-nacks", bytes([0x01]) + b"".join(nacks))


def ipv4_udp(dst_port, payload):
    udp = struct.pack(">HHHH", 40000, dst_port, 8 + len(payload), 0) + payload
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                       bytes([10, 200, 1, 1]), bytes([10, 202, 0, 1])) + udp


def repeats_seeds():
    # A control byte (the time between packets), then [2-byte length][IPv4 packet]...
    packets = [ipv4_udp(5000, rtp(10)), ipv4_udp(5002, rtp(10)),
               ipv4_udp(5004, rtp(10, ssrc=0x12345671)), ipv4_udp(5001, sr()),
               ipv4_udp(9000, data(7, 1, b"media")),
               ipv4_udp(9000, data(7, 2, b"media", flags=RETRANSMIT))]
    write("repeats", "links", bytes([1]) + b"".join(struct.pack(">H", len(p)) + p
                                                    for p in packets))


if __name__ == "__main__":
    repeats_seeds()
    rist_seeds()
    wire_seeds()
    receiver_seeds()
    sender_seeds()
