#!/usr/bin/env python3
"""Broker residence time of AMQP 0-9-1 messages, from a loopback packet capture.

A load tool such as `warren-perf` measures publish-to-delivery latency end to end: the
producer's client library and kernel, the broker, the consumer's kernel and client library.
This script isolates the broker's part, for any broker, from what went over the wire.

It reads a capture of the broker port, reassembles every TCP direction into its byte stream
and parses the AMQP frames in it. A `basic.publish` (client to broker) and a `basic.deliver`
(broker to client) carry the same body; the first 8 bytes of the body (warren-perf writes its
send time there) serve as an opaque key that pairs them. For each message:

    t_in  = capture time of the packet with the last byte of the published message
            (the broker cannot route it before that)
    t_out = capture time of the packet with the last byte of the delivered message
            (the consumer has the whole message)
    residence = t_out - t_in

The rest of the end-to-end latency is the clients' and kernels' part. With a fanout each
delivery of a key counts. A small message usually travels in one packet (clients write the
publish frames together, brokers the deliver frames), so "last byte" and "first body frame"
are then the same packet.

Start the capture before the load, so that every stream begins with its SYN; after the load
tool has finished, wait two seconds before stopping tcpdump with SIGINT: it receives packets
in blocks that are handed over at least once a second, and a block still being filled when
it stops is lost (seen: the last messages of a run missing after a 0.5 s wait).

    tcpdump -i lo -w /tmp/run.pcap -s 0 -B 16384 'tcp port 5672' &
    sleep 1
    warren-perf --uri amqp://guest:guest@127.0.0.1:5672/%2f -s 1024 --rate 1000 \\
        --time 10 --warmup 2 --json --quiet
    sleep 2; kill -INT %1; wait
    python3 benches/residence.py /tmp/run.pcap --port 5672 --skip-seconds 2 [--json]

--skip-seconds counts from the first publish in the capture, as warren-perf's --warmup
counts from its first publish, so the same value selects about the same messages.
`tcpdump --time-stamp-precision=nano` gives nanosecond timestamps (read as well). Watch
tcpdump's exit lines: "packets dropped by kernel" means missing stream bytes; the script then
resynchronises on the next frame boundary and the messages in the hole go unmatched.

With `--latency-log FILE` (written by `warren-perf --latency-log FILE` in the same run) each
message's end-to-end latency is paired with its residence, and the clients' share (end to
end minus residence, per message) is reported too: what the end-to-end latency would be
with a broker that took no time at all.

Output: the number of matched deliveries and the nearest-rank percentiles p50, p90, p99,
p99.9 and the maximum of the residence, in microseconds (`--json`: one object with the keys
count, p50, p90, p99, p99_9, max, plus publishes, deliveries, unmatched_deliveries).
Only the Python 3 standard library is used.
"""

import argparse
import collections
import heapq
import json
import math
import struct
import sys

# pcap magic numbers, as read little-endian: (byte order, nanosecond timestamps)
PCAP_MAGICS = {
    0xA1B2C3D4: ("<", False),
    0xD4C3B2A1: (">", False),
    0xA1B23C4D: ("<", True),
    0x4D3CB2A1: (">", True),
}
PCAPNG_MAGIC = 0x0A0D0D0A

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
LINKTYPES_RAW = (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, 12, 14)  # IP, no link header
LINKTYPES = (
    LINKTYPE_NULL,
    LINKTYPE_ETHERNET,
    LINKTYPE_LOOP,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
) + LINKTYPES_RAW

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_VLAN = (0x8100, 0x88A8)

TCP_SYN = 0x02

SEQ_MOD = 1 << 32

AMQP_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_METHOD = 1
FRAME_HEADER = 2
FRAME_BODY = 3
FRAME_HEARTBEAT = 8
FRAME_TYPES = (FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT)
FRAME_END = 0xCE
BASIC_PUBLISH = (60, 40)
BASIC_DELIVER = (60, 60)

MAX_FRAME = 16 << 20  # larger frame sizes mean the stream is not (or no longer) AMQP
RESYNC_MAX_FRAME = 1 << 20  # frame sizes accepted while looking for a frame boundary
RESYNC_CHAIN = 3  # consecutive valid frames that prove a frame boundary
GAP_WAIT_NS = 1_000_000_000  # how long a hole in a stream may wait for its bytes
GAP_MAX_PENDING = 16 << 20  # out-of-order bytes held at most while waiting

KEY_LEN = 8


class Warnings:
    """Counts warnings by kind and prints the first few of each to stderr."""

    def __init__(self, quiet=False, limit=5):
        self.counts = collections.Counter()
        self.quiet = quiet
        self.limit = limit

    def warn(self, kind, message):
        """Records one warning of `kind`; prints it unless that kind was printed enough."""
        self.counts[kind] += 1
        if not self.quiet and self.counts[kind] <= self.limit:
            print(f"warning: {message}", file=sys.stderr)
            if self.counts[kind] == self.limit:
                print(f"warning: (further '{kind}' warnings not shown)", file=sys.stderr)

    def summary(self):
        """Prints how many warnings of each kind there were."""
        if self.counts and not self.quiet:
            parts = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.counts.items()))
            print(f"warnings: {parts}", file=sys.stderr)


class Messages:
    """Publish and delivery times by key."""

    def __init__(self, warnings):
        self.t_in = {}  # key -> capture time (ns) of the publish
        self.t_out = []  # (key, capture time (ns)) of every delivery
        self.publishes = 0
        self.warnings = warnings

    def published(self, key, ts):
        """Records a publish; a key published twice keeps its first time."""
        self.publishes += 1
        if key in self.t_in:
            self.warnings.warn("duplicate key", f"key {key.hex()} published more than once")
            return
        self.t_in[key] = ts

    def delivered(self, key, ts):
        """Records a delivery."""
        self.t_out.append((key, ts))


class Message:
    """Content being collected on one channel: its method, size, first body bytes."""

    def __init__(self, kind):
        self.kind = kind  # "publish" or "deliver"
        self.body_size = None  # from the content header
        self.remaining = 0
        self.key = b""


class FrameParser:
    """Splits one direction's byte stream into AMQP frames and reports complete messages.

    Bytes arrive with their absolute stream offset and the capture time of their packet, so
    that every frame can be given the time of the packet that carried its last byte.
    """

    def __init__(self, name, on_message, warnings, resync=False):
        self.name = name
        self.on_message = on_message  # called as on_message(kind, key, ts)
        self.warnings = warnings
        self.buf = bytearray()
        self.base = 0  # stream offset of buf[0]
        self.segments = collections.deque()  # (start, end, ts) of the bytes in buf
        self.channels = {}
        self.state = "resync" if resync else "start"

    def feed(self, offset, data, ts):
        """Appends `data` (starting at stream offset `offset`) and parses what it can."""
        if self.state == "dead" or not data:
            return
        if not self.buf:
            self.base = offset
        self.buf += data
        self.segments.append((offset, offset + len(data), ts))
        self._parse()

    def gap(self, offset):
        """Forgets everything before stream offset `offset` (a hole in the capture)."""
        if self.state == "dead":
            return
        self.buf = bytearray()
        self.base = offset
        self.segments.clear()
        self.channels.clear()
        self.state = "resync"

    def _time_of(self, offset):
        """Capture time of the packet that carried the byte at stream offset `offset`."""
        for start, end, ts in self.segments:
            if start <= offset < end:
                return ts
        return self.segments[-1][2]

    def _consume(self, n):
        """Drops the first `n` bytes of the buffer."""
        if n:
            del self.buf[:n]
            self.base += n
            while self.segments and self.segments[0][1] <= self.base:
                self.segments.popleft()

    def _parse(self):
        """Runs the state machine over the buffered bytes."""
        if self.state == "start":
            self._skip_protocol_header()
        if self.state == "resync":
            self._resync()
        if self.state == "frames":
            self._frames()

    def _skip_protocol_header(self):
        """Skips "AMQP\\x00\\x00\\x09\\x01" at the start of a client's stream."""
        head = bytes(self.buf[:len(AMQP_HEADER)])
        if head == AMQP_HEADER[:len(head)] and len(head) < len(AMQP_HEADER):
            return  # wait for the rest of it
        if head[:4] == b"AMQP":
            if head != AMQP_HEADER:
                self.warnings.warn("protocol", f"{self.name}: protocol header {head!r}")
            self._consume(len(AMQP_HEADER))
        self.state = "frames"

    def _check_chain(self, pos):
        """Whether RESYNC_CHAIN valid frames start at `pos`: "ok", "bad" or "more"."""
        buf = self.buf
        for _ in range(RESYNC_CHAIN):
            if pos + 7 > len(buf):
                return "more"
            ftype, _channel, size = struct.unpack_from(">BHI", buf, pos)
            if ftype not in FRAME_TYPES or size > RESYNC_MAX_FRAME:
                return "bad"
            end = pos + 7 + size
            if end >= len(buf):
                return "more"
            if buf[end] != FRAME_END:
                return "bad"
            pos = end + 1
        return "ok"

    def _resync(self):
        """Looks for a frame boundary after a hole (or in a stream seen without its start)."""
        pos = 0
        while pos < len(self.buf):
            if self.buf[pos] in FRAME_TYPES:
                result = self._check_chain(pos)
                if result == "ok":
                    self.warnings.warn(
                        "resync", f"{self.name}: frames found again at offset {self.base + pos}"
                    )
                    self._consume(pos)
                    self.state = "frames"
                    return
                if result == "more":
                    break
            pos += 1
        self._consume(pos)

    def _frames(self):
        """Parses the complete frames in the buffer."""
        buf = self.buf
        pos = 0
        while len(buf) - pos >= 7:
            ftype, channel, size = struct.unpack_from(">BHI", buf, pos)
            if size > MAX_FRAME or ftype not in FRAME_TYPES:
                self._die(f"frame type {ftype} size {size} at offset {self.base + pos}")
                return
            end = pos + 7 + size
            if end >= len(buf):
                break
            if buf[end] != FRAME_END:
                self._die(f"frame end 0x{buf[end]:02x} at offset {self.base + end}")
                return
            self._frame(ftype, channel, buf[pos + 7:end], self.base + end)
            pos = end + 1
        self._consume(pos)

    def _die(self, why):
        """Stops parsing this stream: it is not AMQP 0-9-1 as understood here."""
        self.warnings.warn("bad stream", f"{self.name}: {why}; ignoring the rest of this stream")
        self.state = "dead"
        self.buf = bytearray()
        self.segments.clear()
        self.channels.clear()

    def _frame(self, ftype, channel, payload, last_offset):
        """Follows one frame; `last_offset` is the stream offset of its frame-end octet."""
        if ftype == FRAME_METHOD:
            self.channels.pop(channel, None)
            if len(payload) >= 4:
                method = struct.unpack_from(">HH", payload, 0)
                if method == BASIC_PUBLISH:
                    self.channels[channel] = Message("publish")
                elif method == BASIC_DELIVER:
                    self.channels[channel] = Message("deliver")
        elif ftype == FRAME_HEADER:
            msg = self.channels.get(channel)
            if msg is None:
                return
            if msg.body_size is not None or len(payload) < 12:
                self.channels.pop(channel, None)
                return
            msg.body_size = struct.unpack_from(">Q", payload, 4)[0]
            msg.remaining = msg.body_size
            if msg.body_size == 0:
                self.channels.pop(channel, None)  # no body, no key
        elif ftype == FRAME_BODY:
            msg = self.channels.get(channel)
            if msg is None or msg.body_size is None:
                return
            if len(msg.key) < KEY_LEN:
                msg.key += bytes(payload[:KEY_LEN - len(msg.key)])
            msg.remaining -= len(payload)
            if msg.remaining <= 0:
                self.channels.pop(channel, None)
                if len(msg.key) == KEY_LEN:
                    self.on_message(msg.kind, msg.key, self._time_of(last_offset))


class TcpStream:
    """One direction of one TCP connection: puts segments in sequence order, drops the
    bytes seen before (retransmissions, duplicates), skips holes that never fill."""

    def __init__(self, name, seq, parser, warnings):
        self.name = name
        self.next_seq = seq  # sequence number of the next expected byte
        self.next_offset = 0  # its stream offset
        self.pending = {}  # stream offset -> (data, ts): segments that came early
        self.starts = []  # heap of the offsets in `pending`
        self.pending_bytes = 0
        self.held_since = None  # capture time of the oldest segment in `pending`
        self.parser = parser
        self.warnings = warnings

    def segment(self, seq, data, ts, missing=0):
        """Takes one segment's payload; `missing` bytes of it were not captured (snaplen)."""
        delta = (seq - self.next_seq) % SEQ_MOD
        if delta >= SEQ_MOD // 2:
            delta -= SEQ_MOD
        if delta < 0:
            if delta + len(data) + missing <= 0:
                return  # all seen before
            if -delta >= len(data):
                missing -= -delta - len(data)
                data = b""
            else:
                data = data[-delta:]
            delta = 0
        if delta > 0:
            self._hold(self.next_offset + delta, data, ts)
        else:
            self._deliver(data, ts)
            if missing:
                self.skip_hole(self.next_offset + missing)
        self._drain()
        self._check_hole(ts)

    def _hold(self, offset, data, ts):
        """Keeps an early segment until the bytes before it arrive."""
        old = self.pending.get(offset)
        if old is None:
            if not self.pending:
                self.held_since = ts
            heapq.heappush(self.starts, offset)
        elif len(old[0]) >= len(data):
            return
        else:
            self.pending_bytes -= len(old[0])
        self.pending[offset] = (data, ts)
        self.pending_bytes += len(data)

    def _deliver(self, data, ts):
        """Passes in-order bytes to the frame parser."""
        if data:
            self.parser.feed(self.next_offset, data, ts)
            self.next_offset += len(data)
            self.next_seq = (self.next_seq + len(data)) % SEQ_MOD

    def _drain(self):
        """Delivers the held segments that are now in order."""
        popped = False
        while self.starts and self.starts[0] <= self.next_offset:
            start = heapq.heappop(self.starts)
            data, ts = self.pending.pop(start)
            self.pending_bytes -= len(data)
            popped = True
            skip = self.next_offset - start
            if skip < len(data):
                self._deliver(data[skip:], ts)
        if not self.pending:
            self.held_since = None
        elif popped:
            self.held_since = min(ts for _, ts in self.pending.values())

    def _check_hole(self, now):
        """Gives up on a hole that waited too long (the capture lost those bytes)."""
        while self.pending and (
            now - self.held_since >= GAP_WAIT_NS or self.pending_bytes >= GAP_MAX_PENDING
        ):
            self.skip_hole(self.starts[0])

    def skip_hole(self, start):
        """Continues the stream at offset `start`, the bytes before it are lost."""
        lost = start - self.next_offset
        self.warnings.warn(
            "hole", f"{self.name}: {lost} bytes missing at offset {self.next_offset}"
        )
        self.parser.gap(start)
        self.next_seq = (self.next_seq + lost) % SEQ_MOD
        self.next_offset = start
        self._drain()

    def finish(self):
        """End of capture: delivers what is held, skipping the holes."""
        while self.pending:
            self.skip_hole(self.starts[0])


def read_pcap(path, warnings):
    """Yields (timestamp ns, link type, packet bytes) of every record of a pcap file."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise SystemExit(f"{path}: {e.strerror}") from None
    with f:
        head = f.read(24)
        if len(head) < 24:
            raise SystemExit(f"{path}: too short for a pcap file")
        magic = struct.unpack_from("<I", head, 0)[0]
        if magic == PCAPNG_MAGIC:
            raise SystemExit(
                f"{path}: pcapng is not supported; capture with tcpdump -w, "
                "or convert with: editcap -F pcap IN OUT"
            )
        if magic not in PCAP_MAGICS:
            raise SystemExit(f"{path}: not a pcap file (magic 0x{magic:08x})")
        order, nanos = PCAP_MAGICS[magic]
        linktype = struct.unpack_from(order + "I", head, 20)[0] & 0x0FFFFFFF
        if linktype not in LINKTYPES:
            raise SystemExit(f"{path}: link type {linktype} is not supported")
        record = struct.Struct(order + "IIII")
        frac_ns = 1 if nanos else 1000
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                if rec:
                    warnings.warn("truncated", f"{path}: capture ends inside a record header")
                return
            sec, frac, incl_len, _orig_len = record.unpack(rec)
            if incl_len > 0x10000000:
                warnings.warn("truncated", f"{path}: record of {incl_len} bytes, stopping")
                return
            data = f.read(incl_len)
            if len(data) < incl_len:
                warnings.warn("truncated", f"{path}: capture ends inside a packet")
                return
            yield sec * 1_000_000_000 + frac * frac_ns, linktype, data


def ip_packet(linktype, pkt):
    """The IP packet inside a link-layer frame, or None."""
    if linktype == LINKTYPE_ETHERNET:
        if len(pkt) < 14:
            return None
        ethertype = struct.unpack_from(">H", pkt, 12)[0]
        pos = 14
        while ethertype in ETHERTYPE_VLAN and len(pkt) >= pos + 4:
            ethertype = struct.unpack_from(">H", pkt, pos + 2)[0]
            pos += 4
        if ethertype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
            return pkt[pos:]
        return None
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        return pkt[4:] if len(pkt) >= 4 else None  # address family; the IP version tells
    if linktype == LINKTYPE_LINUX_SLL:
        if len(pkt) < 16:
            return None
        proto = struct.unpack_from(">H", pkt, 14)[0]
        return pkt[16:] if proto in (ETHERTYPE_IPV4, ETHERTYPE_IPV6) else None
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(pkt) < 20:
            return None
        proto = struct.unpack_from(">H", pkt, 0)[0]
        return pkt[20:] if proto in (ETHERTYPE_IPV4, ETHERTYPE_IPV6) else None
    if linktype in LINKTYPES_RAW:
        return pkt
    return None


def tcp_segment(ip):
    """(src, sport, dst, dport, seq, flags, payload, missing) of a TCP/IP packet, or None.

    `missing` counts the payload bytes the capture cut off (snaplen).
    """
    if not ip:
        return None
    version = ip[0] >> 4
    if version == 4:
        if len(ip) < 20:
            return None
        ihl = (ip[0] & 0x0F) * 4
        total_len, frag, proto = struct.unpack_from(">H2xHxB", ip, 2)
        if proto != 6 or frag & 0x3FFF:  # not TCP, or a fragment
            return None
        if total_len == 0:  # a large segment captured before segmentation (TSO)
            total_len = len(ip)
        src, dst = ip[12:16], ip[16:20]
        tcp, tcp_len = ip[ihl:total_len], total_len - ihl
    elif version == 6:
        if len(ip) < 40:
            return None
        payload_len, next_header = struct.unpack_from(">HB", ip, 4)
        if next_header != 6:  # extension headers are not followed
            return None
        src, dst = ip[8:24], ip[24:40]
        tcp, tcp_len = ip[40:40 + payload_len], payload_len
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq, offset_flags = struct.unpack_from(">HHIxxxxH", tcp, 0)
    data_offset = (offset_flags >> 12) * 4
    flags = offset_flags & 0xFF
    payload = tcp[data_offset:]
    missing = max(0, tcp_len - data_offset - len(payload))
    return src, sport, dst, dport, seq, flags, payload, missing


def address(raw, port):
    """Printable "address:port"."""
    if len(raw) == 4:
        return ".".join(str(b) for b in raw) + f":{port}"
    return "[" + ":".join(raw[i:i + 2].hex() for i in range(0, 16, 2)) + f"]:{port}"


def analyse(path, port, warnings):
    """Reads the capture; returns its Messages."""
    messages = Messages(warnings)
    streams = {}

    def on_message_for(sport, dport):
        """The callback for one direction, applying the --port filter."""

        def on_message(kind, key, ts):
            if kind == "publish" and (port is None or dport == port):
                messages.published(key, ts)
            elif kind == "deliver" and (port is None or sport == port):
                messages.delivered(key, ts)

        return on_message

    for ts, linktype, pkt in read_pcap(path, warnings):
        seg = tcp_segment(ip_packet(linktype, pkt))
        if seg is None:
            continue
        src, sport, dst, dport, seq, flags, payload, missing = seg
        if port is not None and port not in (sport, dport):
            continue
        tuple4 = (src, sport, dst, dport)
        name = f"{address(src, sport)} -> {address(dst, dport)}"
        stream = streams.get(tuple4)
        if flags & TCP_SYN:
            isn_next = (seq + 1) % SEQ_MOD
            if stream is None or stream.next_offset or stream.next_seq != isn_next:
                if stream is not None:
                    stream.finish()
                parser = FrameParser(name, on_message_for(sport, dport), warnings)
                streams[tuple4] = TcpStream(name, isn_next, parser, warnings)
            continue
        if stream is None:
            if not payload:
                continue
            warnings.warn("no SYN", f"{name}: connection started before the capture")
            parser = FrameParser(name, on_message_for(sport, dport), warnings, resync=True)
            stream = streams[tuple4] = TcpStream(name, seq, parser, warnings)
        if payload or missing:
            stream.segment(seq, payload, ts, missing)
    for stream in streams.values():
        stream.finish()
    return messages


def residences_us(messages, skip_until):
    """Residence times in µs of the deliveries whose publish was at or after `skip_until`."""
    result = []
    unmatched = 0
    for key, t_out in messages.t_out:
        t_in = messages.t_in.get(key)
        if t_in is None:
            unmatched += 1
        elif t_in >= skip_until:
            result.append((t_out - t_in) / 1000.0)
    return result, unmatched


def read_latency_log(path):
    """warren-perf's --latency-log: {send stamp as 16 hex digits: end-to-end latency in ns}."""
    latencies = {}
    with open(path, encoding="ascii") as f:
        for line in f:
            fields = line.split()
            if len(fields) == 2 and len(fields[0]) == 16:
                try:
                    latencies[fields[0].lower()] = int(fields[1])
                except ValueError:
                    continue
    return latencies


def clients_shares_us(messages, skip_until, latencies):
    """For the deliveries the latency log has: their end-to-end latency and the clients'
    share of it (end to end minus the broker's residence), both in µs. A key delivered
    more than once (a fanout) pairs each delivery with the one latency the log kept."""
    end_to_end, shares = [], []
    for key, t_out in messages.t_out:
        t_in = messages.t_in.get(key)
        latency = latencies.get(bytes(key).hex())
        if t_in is None or latency is None or t_in < skip_until:
            continue
        end_to_end.append(latency / 1000.0)
        shares.append((latency - (t_out - t_in)) / 1000.0)
    return end_to_end, shares


def percentile(sorted_values, p):
    """Nearest-rank percentile `p` (0-100] of a sorted, non-empty list."""
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(values):
    """count, p50, p90, p99, p99_9 and max of `values` (None when there are none)."""
    values = sorted(values)
    result = {"count": len(values)}
    for name, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p99_9", 99.9)):
        result[name] = round(percentile(values, p), 3) if values else None
    result["max"] = round(values[-1], 3) if values else None
    return result


def main(argv=None):
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description="Broker residence time (publish in to delivery out) of AMQP 0-9-1 "
        "messages, from a pcap capture of the broker port.",
        epilog="Capture with: tcpdump -i lo -w FILE -s 0 -B 16384 'tcp port PORT'",
    )
    parser.add_argument("pcap", help="capture file (pcap, as written by tcpdump -w)")
    parser.add_argument(
        "--port",
        type=int,
        help="broker port: publishes must go to it and deliveries come from it "
        "(default: any publish and any delivery in the capture)",
    )
    parser.add_argument(
        "--skip-seconds",
        type=float,
        default=0.0,
        metavar="S",
        help="ignore messages published less than S seconds after the first publish in "
        "the capture (warm-up; warren-perf's --warmup counts from its first publish too)",
    )
    parser.add_argument(
        "--latency-log",
        metavar="FILE",
        help="warren-perf --latency-log file of the same run: also report, per message, "
        "the end-to-end latency and the clients' share of it (end to end minus residence)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no warnings on stderr")
    args = parser.parse_args(argv)

    warnings = Warnings(quiet=args.quiet)
    messages = analyse(args.pcap, args.port, warnings)
    first_publish = min(messages.t_in.values(), default=0)
    skip_until = first_publish + int(args.skip_seconds * 1e9)
    values, unmatched = residences_us(messages, skip_until)
    result = summary(values)
    result["publishes"] = messages.publishes
    result["deliveries"] = len(messages.t_out)
    result["unmatched_deliveries"] = unmatched
    if args.latency_log:
        end_to_end, shares = clients_shares_us(
            messages, skip_until, read_latency_log(args.latency_log)
        )
        result["end_to_end"] = summary(end_to_end)
        result["clients_share"] = summary(shares)
    warnings.summary()

    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"publishes {result['publishes']}, deliveries {result['deliveries']} "
            f"({unmatched} without a publish in the capture)"
        )
        if values:
            print(f"residence of {result['count']} deliveries, µs:")
            print(
                f"  p50 {result['p50']:.1f}  p90 {result['p90']:.1f}  p99 {result['p99']:.1f}"
                f"  p99.9 {result['p99_9']:.1f}  max {result['max']:.1f}"
            )
        else:
            print("no delivery matched a publish")
        for name, label in (("end_to_end", "end to end"), ("clients_share", "clients' share")):
            part = result.get(name)
            if part and part["count"]:
                print(
                    f"{label} of {part['count']} deliveries, µs: p50 {part['p50']:.1f}"
                    f"  p90 {part['p90']:.1f}  p99 {part['p99']:.1f}"
                    f"  p99.9 {part['p99_9']:.1f}  max {part['max']:.1f}"
                )
    return 0 if values else 1


if __name__ == "__main__":
    sys.exit(main())
