#!/usr/bin/env python3
"""compare.py NAME BUNDLE: compares the probe's run under runc (BUNDLE/runc.{out,err,rc}) with
its run under kata-runtime (BUNDLE/kata.*). Prints each section that differs; exits 1 when
any difference is not a known one."""
import json
import os
import sys


def sections(text):
    out, cur = {}, None
    for line in text.splitlines():
        if line.startswith("== "):
            cur = line[3:]
            out[cur] = []
        elif cur is not None:
            out[cur].append(line)
    return out


def read(bundle, runtime, ext):
    with open(os.path.join(bundle, f"{runtime}.{ext}"), errors="replace") as f:
        return f.read()


def main(name, bundle):
    runc = {e: read(bundle, "runc", e) for e in ("out", "err", "rc")}
    kata = {e: read(bundle, "kata", e) for e in ("out", "err", "rc")}
    bad = 0
    if runc["rc"].strip() != kata["rc"].strip():
        print(f"{name}: exit status: runc {runc['rc'].strip()}, kata {kata['rc'].strip()}")
        bad += 1
    if runc["err"] != kata["err"]:
        print(f"{name}: stderr differs:\n  runc: {runc['err']!r}\n  kata: {kata['err']!r}")
        bad += 1
    rs, ks = sections(runc["out"]), sections(kata["out"])
    for sec in list(dict.fromkeys(list(rs) + list(ks))):
        a, b = rs.get(sec), ks.get(sec)
        if a == b:
            continue
        bad += 1
        print(f"{name}: section {sec} differs")
        for line in a or ["(missing)"]:
            if b is None or line not in b:
                print(f"  runc only: {line}")
        for line in b or ["(missing)"]:
            if a is None or line not in a:
                print(f"  kata only: {line}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
