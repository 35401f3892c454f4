#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/).

The seeds are small valid inputs (and a few near misses) so that the fuzzers
start from the shapes the parsers accept; they are committed, and this script
says how they were made. Run from anywhere: python3 tests/fuzz/make_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
UUID = b"rebound SEI v1.0"


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- AMF0 -------------------------------------------------------------------
def s(v):
    b = v.encode() if isinstance(v, str) else v
    return b"\x02" + struct.pack(">H", len(b)) + b


def n(v):
    return b"\x00" + struct.pack(">d", v)


def null():
    return b"\x05"


def key(k):
    return struct.pack(">H", len(k)) + k.encode()


def obj(pairs, ecma=False):
    head = b"\x08" + struct.pack(">I", len(pairs)) if ecma else b"\x03"
    return head + b"".join(key(k) + v for k, v in pairs) + b"\x00\x00\x09"


def info(level, code, desc):
    return obj([("level", s(level)), ("code", s(code)), ("description", s(desc))])


def client_seeds():
    put("client_command", "connect_result",
        s("_result") + n(1) + obj([("fmsVer", s("FMS/3,0,1,123")), ("capabilities", n(31))])
        + info("status", "NetConnection.Connect.Success", "Connection succeeded."))
    put("client_command", "connect_error",
        s("_error") + n(1) + null() + info("error", "NetConnection.Connect.Rejected", "no"))
    put("client_command", "create_stream", s("_result") + n(4) + null() + n(1))
    put("client_command", "publish_badname",
        s("onStatus") + n(0) + null()
        + info("error", "NetStream.Publish.BadName", 'Stream "x" <already> & \x01 publishing'))
    put("client_command", "play_start_ecma",
        s("onStatus") + n(0) + null()
        + obj([("level", s("status")), ("code", s("NetStream.Play.Start")), ("details", s("s"))],
              ecma=True))
    put("client_command", "close", s("close") + n(0) + null())
    put("client_command", "amf3_onstatus",
        b"\x00" + s("onStatus") + n(0) + null() + info("status", "NetStream.Publish.Start", "go"))
    put("client_command", "other_types",
        s("onStatus") + n(0) + b"\x01\x01" + b"\x06" + b"\x0b" + bytes(10)
        + b"\x0c" + struct.pack(">I", 3) + b"abc" + b"\x0a" + struct.pack(">I", 2) + n(1) + s("x")
        + info("status", "NetStream.Play.Reset", "reset"))


# ---- SEI ----------------------------------------------------------------------
def emulation_prevent(rbsp):
    out, zeros = bytearray(), 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def sei_nal(seq, ns):
    payload = UUID + struct.pack(">Q", seq) + struct.pack(">q", ns)
    return b"\x06" + emulation_prevent(bytes([5, len(payload)]) + payload + b"\x80")


def video_tag(nals, lsz=4):
    body = b"\x27\x01\x00\x00\x00"
    for nal in nals:
        body += len(nal).to_bytes(lsz, "big") + nal
    return body


def sei_seeds():
    slice_nal = b"\x41\x9a" + bytes(20)
    put("media_sei", "sei_first", video_tag([sei_nal(1, 123456789), slice_nal]))
    put("media_sei", "sei_after_aud", video_tag([b"\x09\xf0", sei_nal(0, 0), slice_nal]))
    put("media_sei", "sei_len2", video_tag([sei_nal(2**40, 2**62)], lsz=2))
    put("media_sei", "sei_len1", video_tag([sei_nal(7, 7)], lsz=1))
    other = b"\x06" + emulation_prevent(bytes([4, 3, 1, 2, 3]) + bytes([5, 40]) + UUID
                                        + bytes(24) + b"\x80")
    put("media_sei", "sei_two_messages", video_tag([other, slice_nal]))
    put("media_sei", "no_sei", video_tag([slice_nal]))


# ---- RTMP chunks for the refserver ------------------------------------------------
def chunks(csid, msg_type, sid, ts, body, chunk_size=128):
    out = bytearray()
    for off in range(0, max(len(body), 1), chunk_size):
        if off == 0:
            ts_field = min(ts, 0xFFFFFF)
            out += bytes([csid]) + ts_field.to_bytes(3, "big") + len(body).to_bytes(3, "big")
            out += bytes([msg_type]) + struct.pack("<I", sid)
            if ts >= 0xFFFFFF:
                out += struct.pack(">I", ts)
        else:
            out += bytes([0xC0 | csid])
        out += body[off:off + chunk_size]
    return bytes(out)


def command(csid, sid, name, txn, *args):
    return chunks(csid, 20, sid, 0, s(name) + n(txn) + b"".join(args))


def records(stream):
    """stream: list of (peer, bytes) -> the target's record format."""
    out = bytearray()
    for peer, data in stream:
        for off in range(0, len(data), 128):
            part = data[off:off + 128]
            out += bytes([(peer << 7) | (len(part) - 1)]) + part
    return bytes(out)


def refserver_seeds():
    connect = command(3, 0, "connect", 1, obj([("app", s("live")), ("tcUrl", s("rtmp://h/live"))]))
    create = command(3, 0, "createStream", 2, null())
    publish = command(8, 1, "publish", 3, null(), s("s"), s("live"))
    play = command(8, 1, "play", 3, null(), s("s"), n(-2000))
    setchunk = chunks(2, 1, 0, 0, struct.pack(">I", 4096))
    meta = chunks(4, 18, 1, 0, s("@setDataFrame") + s("onMetaData") + obj([("width", n(64))], True))
    avc_hdr = chunks(6, 9, 1, 0, b"\x17\x00\x00\x00\x00\x01\x42\x00\x1e\xff\xe1\x00\x04abcd")
    aac_hdr = chunks(5, 8, 1, 0, b"\xaf\x00\x12\x10")
    frame = chunks(6, 9, 1, 40, video_tag([sei_nal(1, 5), b"\x65" + bytes(300)]))
    late = chunks(6, 9, 1, 0x1000000, video_tag([b"\x41" + bytes(10)]))
    delete = command(3, 0, "deleteStream", 4, null(), n(1))
    put("refserver", "publish_play_relay", records([
        (0, connect + create + publish + meta + avc_hdr + aac_hdr),
        (1, connect + create + play),
        (0, frame + late + setchunk + chunks(6, 9, 1, 80, video_tag([b"\x41" + bytes(5000)]), 4096)),
        (0, delete),
    ]))
    put("refserver", "control_messages", records([
        (0, connect + chunks(2, 5, 0, 0, struct.pack(">I", 2500000))
         + chunks(2, 6, 0, 0, struct.pack(">IB", 2500000, 2))
         + chunks(2, 4, 0, 0, struct.pack(">HI", 3, 1) + struct.pack(">I", 1000))
         + chunks(2, 3, 0, 0, struct.pack(">I", 1000))
         + chunks(2, 2, 0, 0, struct.pack(">I", 6))),
    ]))
    put("refserver", "two_publishers", records([
        (0, connect + create + publish), (1, connect + create + publish),
        (0, b"\xc8" * 3), (1, delete),
    ]))
    # Header forms: fmt 1/2/3 after fmt 0, a 2-byte and a 3-byte basic header.
    forms = chunks(6, 9, 1, 0, b"\x17\x01" + bytes(10))
    forms += bytes([0x46]) + (40).to_bytes(3, "big") + (12).to_bytes(3, "big") + b"\x09" + bytes(12)
    forms += bytes([0x86]) + (40).to_bytes(3, "big") + bytes(12)
    forms += bytes([0x00, 10]) + chunks(0, 9, 1, 0, b"")[1:12] + b""
    forms += bytes([0x01, 1, 1]) + (0).to_bytes(3, "big") + (0).to_bytes(3, "big") + b"\x09" + bytes(4)
    put("refserver", "header_forms", records([(0, connect + create + publish + forms)]))


# ---- scenario files ---------------------------------------------------------------
def scenario_seeds():
    src = os.path.join(HERE, "..", "..", "scenarios")
    for name in sorted(os.listdir(src)):
        if name.endswith(".ini"):
            with open(os.path.join(src, name), "rb") as f:
                put("scenario", name, f.read())
    put("scenario", "everything.ini", b"""; every key
[global]
command = exec srv --port ${port} --dir ${run_dir} $${HOME}
restart_command = ${command} --again
host = 127.0.0.1
port = auto
http_port = auto
app = live
stream = s-${client}-${name}
url = rtmp://${host}:${port}/${app} live=1
config_template = ${scenario_dir}/x.conf.in
ready = http://127.0.0.1:${http_port}/ok
ready_timeout = 2s
fault = exec:kill -9 ${port}
fault_at = random
grace = 500ms
hang_for = 1m
cycles = 3
duration = 0
publishers = 2
players = 1
holders = 0
publish_for = 0
rebind_timeout = 1.5s
reconnect_timeout = 10s
stat_url = http://127.0.0.1:${http_port}/stat
stat_expect = ${stream}
media = ${scenario_dir}/a.flv
seed = 18446744073709551615
max_rebind_ms = 250
max_reconnect_ms = 2s
expect = fail
[a]
fault = sigterm
[b]
fault = hang
cycles = ${cycles}
""")
    put("scenario", "set_override.ini", b"--set cycles=2\n[s]\ncommand = x\n")
    put("scenario", "errors.ini", b"[s]\ncommand = x ${port\ngrace = -1s\n[s]\n")


def flv_tag(tag_type, ts, body):
    return (struct.pack(">B", tag_type) + struct.pack(">I", len(body))[1:] + struct.pack(">I", ts)[1:] +
            struct.pack(">B", ts >> 24) + b"\0\0\0" + body + struct.pack(">I", 11 + len(body)))


def flv_stream_seeds():
    # first byte also picks the split size of the reader's input
    header = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"
    slice_nal = b"\x65\x88\x84\x00"
    put("flv_stream", "http_flv", header + flv_tag(18, 0, s("onMetaData") + null()) +
        flv_tag(9, 40, video_tag([sei_nal(5, 99), slice_nal])) + flv_tag(8, 41, b"\xaf\x01\x21\x00"))
    put("flv_stream", "bad_trailer", header + flv_tag(9, 0, b"\x17\x01\x00\x00\x00")[:-1] + b"\x00")
    put("flv_stream", "huge_tag", header + b"\x09\xff\xff\xff" + b"\x00" * 7)


def hls_playlist_seeds():
    put("hls_playlist", "nginx.m3u8", b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-TARGETDURATION:1\n"
        b"#EXT-X-DISCONTINUITY\n#EXTINF:1.000,\ns-7.ts\n#EXTINF:0.960,\ns-8.ts\n")
    put("hls_playlist", "reset.m3u8", b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:4\n"
        b"#EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n\f#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
        b"#EXTINF:2,\nc.ts\n")
    put("hls_playlist", "dseq.m3u8", b"#EXTM3U\r\n#EXT-X-TARGETDURATION:6\r\n#EXT-X-DISCONTINUITY-SEQUENCE:2\r\n"
        b"#EXTINF:5.5,t\r\nhttp://127.0.0.1:1/x.ts\r\n#EXT-X-ENDLIST\r\n")
    put("hls_playlist", "master.m3u8", b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n")


def rtmp_wire_seeds():
    # chunk headers of each form, then AMF0 (the target reads the same bytes both ways)
    put("rtmp_wire", "fmt0_header", b"\x03" + bytes([0, 0, 0, 0, 0, 20, 20, 0, 0, 0, 0])
        + s("onStatus") + n(0) + null() + info("status", "NetStream.Play.Start", "go"))
    put("rtmp_wire", "ext_timestamp", b"\x44\xff\xff\xff\x00\x00\x04\x09\x00\x00\x00\x01\xc4")
    put("rtmp_wire", "csid_forms", b"\x00\x05" + bytes(11) + b"\x01\xff\xff" + bytes(11))
    put("rtmp_wire", "amf_nested", s("_result") + n(1)
        + obj([("a", obj([("b", obj([("c", b"\x0a" + struct.pack(">I", 2) + n(1) + null())]))]))]))
    put("rtmp_wire", "amf_refs", b"\x07\x00\x01" + b"\x10\x00\x01T\x00\x00\x09")


# ---- results files (rebound merge / report) -------------------------------------
def results_seeds():
    cycle = (b'{"index": 1, "result": "fail", "fault": "sigkill", "port_states_at_restart": '
             b'{"LISTEN": 0, "FIN_WAIT2": 2, "TIME_WAIT": 1}, "ready_ms": null, "rebind_ms": null, '
             b'"reconnect_ms": null, "stale_ms": 0.0, "clients": {"publishers_ok": 0, "players_ok": 0, '
             b'"holders": 2}, "frames": {"sent": 5, "received": 4, "lost_after_reconnect": 0, "gaps": 1, '
             b'"duplicates": 0}, "latency_ms": {"p50": 1.5, "p99": 3.0}, "duration_ms": 812.5, '
             b'"start_at_ns": 1000, "fault_at_ns": 2000, "fault_done_at_ns": 3000, "restart_at_ns": 4000, '
             b'"rebind_at_ns": null, "diagnosis": "bind() failed <&> \\"x\\"", '
             b'"failures": ["port not rebound"], "log_tail": "line\\u001b[31m\\n\\u00e9"}')
    ok = cycle.replace(b'"result": "fail"', b'"result": "pass"').replace(b'"rebind_ms": null', b'"rebind_ms": 4.5')
    scenario = (b'{"name": "s<1>", "result": "fail", "port": 1935, "seed": 7, "first_ready_ms": 3.2, '
                b'"cycles": [' + ok + b', ' + cycle + b'], "summary": {}, "error": "", "warnings": ["w"], '
                b'"exercised_classic_bug": true, "artifacts": "/x", "port_states_before_start": {"TIME_WAIT": 1}}')
    put("results", "fail.json", b'{"schema": 1, "rebound": "0.1.0", "scenario_file": "s.ini", "seed": 7, '
        b'"result": "fail", "shard": {"index": 2, "total": 3}, "scenarios": [' + scenario + b']}')
    put("results", "empty.json", b'{"schema": 1, "result": "pass", "scenarios": []}')
    put("results", "schema2.json", b'{"schema": 2, "result": "pass", "scenarios": []}')


if __name__ == "__main__":
    flv_stream_seeds()
    hls_playlist_seeds()
    results_seeds()
    client_seeds()
    rtmp_wire_seeds()
    sei_seeds()
    refserver_seeds()
    scenario_seeds()
