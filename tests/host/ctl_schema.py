#!/usr/bin/python3
"""Checks a running vpf's control socket against docs/api.schema.json (docs/api.md):
the greeting, every command's answer, the error answers and their classes, and that the
arguments each command declares (help) are exactly the schema's request properties.
Usage: ctl_schema.py SOCKET SCHEMA. The VM has net0 (an SR-IOV PF with total-vfs >= 2)
and net1 (a plain NIC). Exit status 0 when everything matches."""
import fcntl
import json
import os
import socket
import struct
import sys

import jsonschema

sock_path, schema_path = sys.argv[1], sys.argv[2]
schema = json.load(open(schema_path))
defs = schema["$defs"]
TYPES = {"a string": "string", "an integer": "integer", "true or false": "boolean"}


def check(instance, ref):
    """Validates instance against #/$defs/REF (refs resolve within the whole schema)."""
    sub = {"$defs": defs, "$ref": "#/$defs/" + ref}
    jsonschema.Draft202012Validator(sub).validate(instance)


conn = socket.socket(socket.AF_UNIX)
conn.connect(sock_path)
lines = conn.makefile("rb")
greeting = json.loads(lines.readline())
check(greeting, "greeting")
n = 0


def ask(request, raw=None):
    """Sends a request (a dict, or raw bytes) and returns the answer."""
    global n
    n += 1
    if raw is None:
        request = dict(request, id=n)
        raw = json.dumps(request).encode()
    conn.sendall(raw + b"\n")
    answer = json.loads(lines.readline())
    if raw is not None and isinstance(request, dict):
        assert answer.get("id") == n, f"id not echoed: {answer}"
    return answer


def ask_fd(request, fd):
    """Sends a request with the descriptor fd (SCM_RIGHTS) and returns the answer."""
    global n
    n += 1
    socket.send_fds(conn, [(json.dumps(dict(request, id=n)) + "\n").encode()], [fd])
    answer = json.loads(lines.readline())
    assert answer.get("id") == n, f"id not echoed: {answer}"
    return answer


def open_tap(name, vnet_hdr=True):
    """A tun fd attached to the tap name (created), as a privileged manager opens it."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    flags = 0x0002 | 0x1000 | (0x4000 if vnet_hdr else 0)     # IFF_TAP, IFF_NO_PI, IFF_VNET_HDR
    fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH22x", name.encode(), flags))   # TUNSETIFF
    return fd


# The arguments the server declares are the schema's, command for command.
help_answer = ask({"cmd": "help"})
check(help_answer, "answers/help")
declared = {c["name"]: c["args"] for c in help_answer["commands"]}
BUILTIN = {"help", "subscribe", "unsubscribe"}
assert set(declared) | BUILTIN == set(defs["requests"]), \
    f"commands: server {sorted(declared)}, schema {sorted(defs['requests'])}"
assert set(greeting["greeting"]["commands"]) == set(defs["requests"]), "greeting's commands"
for name, args in declared.items():
    req = defs["requests"][name]
    props = {k: v for k, v in req["properties"].items() if k not in ("cmd", "id")}
    assert set(args) == set(props), f"{name}: server takes {sorted(args)}, schema {sorted(props)}"
    required = set(req["required"]) - {"cmd"}
    assert {a for a, d in args.items() if d["required"]} == required, f"{name}: required args"
    for a, d in args.items():
        t = props[a].get("type") or {"#/$defs/mac": "string", "#/$defs/onoff": "boolean"}[props[a]["$ref"]]
        assert t == TYPES[d["type"]], f"{name}.{a}: server {d['type']}, schema {t}"

# Each command, successful: the request is valid by the schema, the answer too.
good = [
    {"cmd": "info"},
    {"cmd": "powerdown"},
    {"cmd": "devices"},
    {"cmd": "vfs", "dev": "net0"},
    {"cmd": "vf-set", "dev": "net0", "vf": 1, "vlan": 5, "spoofchk": "on", "rate": 100},
    {"cmd": "vf-set", "dev": "net0", "vf": 1, "vlan": 0, "spoofchk": False, "rate": 0},
    {"cmd": "vf-set", "dev": "net0", "vf": 1, "vlan": 7, "qos": 3, "proto": "802.1ad",
     "trust": "on", "state": "disable", "max_tx_rate": 10, "min_tx_rate": 0},
    {"cmd": "vf-set", "dev": "net0", "vf": 1, "vlan": 0, "trust": False, "state": "auto",
     "max_tx_rate": 0},
    {"cmd": "vfs", "dev": "net0"},
    {"cmd": "link", "dev": "net1", "up": False},
    {"cmd": "link", "dev": "net1", "up": "on"},
    {"cmd": "stats", "dev": "net0"},
    {"cmd": "stats", "dev": "net1"},
]
for req in good:
    check(req, "requests/" + req["cmd"])
    answer = ask(req)
    assert answer["ok"], f"{req}: {answer}"
    check(answer, "answers/" + req["cmd"])

# Failures: an error answer of the documented class.
bad = [
    ({"cmd": "stats", "dev": "net9"}, "not-found"),
    ({"cmd": "vf-set", "dev": "net0", "vf": 1, "vlan_id": 5}, "bad-argument"),
    ({"cmd": "vf-set", "dev": "net0", "vf": 1, "trust": "maybe"}, "bad-argument"),
    ({"cmd": "vf-set", "dev": "net0", "vf": 1, "qos": 3}, "bad-argument"),
    ({"cmd": "vf-set", "dev": "net0", "vf": 1, "vlan": 5, "qos": 8}, "bad-argument"),
    ({"cmd": "vf-set", "dev": "net0", "vf": 1, "vlan": 5, "proto": "802.1x"}, "bad-argument"),
    ({"cmd": "vf-set", "dev": "net0", "vf": 1, "state": "up"}, "bad-argument"),
    ({"cmd": "vf-set", "dev": "net0", "vf": 1, "min_tx_rate": 10}, "not-supported"),
    ({"cmd": "vf-set", "dev": "net0", "vf": 1, "rate": 5, "max_tx_rate": 6}, "bad-argument"),
    ({"cmd": "vf-set", "dev": "net0", "vf": "abc"}, "bad-argument"),
    ({"cmd": "vf-set", "dev": "net0", "vf": 1, "vlan": 4095}, "bad-argument"),
    ({"cmd": "vf-set", "dev": "net0", "vf": 99}, "not-found"),
    ({"cmd": "vf-set", "dev": "net0", "vf": 1, "mac": None}, "bad-argument"),
    ({"cmd": "vfs", "dev": "net1"}, "not-supported"),
    ({"cmd": "link", "dev": "net0"}, "bad-argument"),
    ({"cmd": "frobnicate"}, "unknown-command"),
]
pf_mac = next(d["mac"] for d in ask({"cmd": "devices"})["devices"] if d["dev"] == "net0")
bad.append(({"cmd": "vf-set", "dev": "net0", "vf": 1, "mac": pf_mac}, "conflict"))
for req, cls in bad:
    answer = ask(req)
    check(answer, "error")
    assert answer["class"] == cls, f"{req}: class {answer['class']}, want {cls}: {answer}"
for raw in (b"not json", b"[1]", b'{"cmd":"devices","id":[1]}', b'{"id":1}'):
    answer = ask(None, raw)
    check(answer, "error")
    assert answer["class"] == "bad-request", f"{raw}: {answer}"
# Events: a second connection subscribes and sees the first one's link change.
watcher = socket.socket(socket.AF_UNIX)
watcher.connect(sock_path)
wlines = watcher.makefile("rb")
check(json.loads(wlines.readline()), "greeting")
watcher.sendall(b'{"cmd":"subscribe","id":"w"}\n')
sub_answer = json.loads(wlines.readline())
check(sub_answer, "answers/subscribe")
assert ask({"cmd": "link", "dev": "net1", "up": False})["ok"]
event = json.loads(wlines.readline())
check(event, "event")
assert event["event"] == "link" and event["data"] == {"dev": "net1", "up": False, "by": "host"}, event
watcher.sendall(b'{"cmd":"unsubscribe"}\n')
check(json.loads(wlines.readline()), "answers/unsubscribe")
assert ask({"cmd": "link", "dev": "net1", "up": True})["ok"]
watcher.sendall(b'{"cmd":"help"}\n')
assert "commands" in json.loads(wlines.readline()), "an event reached an unsubscribed client"
for c in sorted(BUILTIN - {"help"}):
    answer = ask({"cmd": c, "x": 1})
    check(answer, "error")
    assert answer["class"] == "bad-argument", answer
# vfs lists every VF the PF allows, up or down, with what the last vf-set left.
vfs = ask({"cmd": "vfs", "dev": "net0"})
assert len(vfs["vfs"]) == vfs["total_vfs"] and [v["vf"] for v in vfs["vfs"]] == list(range(vfs["total_vfs"])), vfs
vf1 = vfs["vfs"][1]
assert (vf1["up"], vf1["vlan"], vf1["qos"], vf1["trust"], vf1["link_state"], vf1["max_tx_rate"]) == \
    (False, 0, 0, False, "auto", 0), vf1
# vf-tap: a tap handed over with the request, for a VF that is down; vfs shows it.
tap_name = f"vpfcs{os.getpid() % 100000}"
fd = open_tap(tap_name)
req = {"cmd": "vf-tap", "dev": "net0", "vf": 1}
check(req, "requests/vf-tap")
answer = ask_fd(req, fd)
assert answer["ok"] and answer["tap"] == tap_name, answer
check(answer, "answers/vf-tap")
assert ask({"cmd": "vfs", "dev": "net0"})["vfs"][1]["tap"] == tap_name
other = ask({"cmd": "vfs", "dev": "net0"})["vfs"][0]["tap"]      # VF 0's pattern tap
plain = open_tap(tap_name + "p", vnet_hdr=False)
taken = open_tap(other)
null = os.open("/dev/null", os.O_RDONLY)
for fd_, req, cls in ((None, {"cmd": "vf-tap", "dev": "net0", "vf": 1}, "bad-argument"),
                      (null, {"cmd": "vf-tap", "dev": "net0", "vf": 1}, "bad-argument"),
                      (plain, {"cmd": "vf-tap", "dev": "net0", "vf": 1}, "bad-argument"),
                      (taken, {"cmd": "vf-tap", "dev": "net0", "vf": 1}, "conflict"),
                      (null, {"cmd": "vf-tap", "dev": "net0", "vf": 99}, "not-found"),
                      (null, {"cmd": "vf-tap", "dev": "net1", "vf": 0}, "not-supported"),
                      (null, {"cmd": "devices"}, "bad-argument")):
    answer = ask(req) if fd_ is None else ask_fd(req, fd_)
    check(answer, "error")
    assert answer["class"] == cls, f"{req} with fd {fd_}: class {answer['class']}, want {cls}: {answer}"
for f in (fd, plain, taken, null):
    os.close(f)
print(f"ctl_schema: {n} requests checked")
