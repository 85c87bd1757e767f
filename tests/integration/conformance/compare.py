#!/usr/bin/env python3
"""compare.py NAME BUNDLE: compares the probe's run under runc (BUNDLE/runc.{out,err,rc}) with
its run under kata-runtime (BUNDLE/kata.{out,err,rc}): exit status, stderr, and stdout section
by section (probe.sh). A known difference (KNOWN below, each with its reason) is named when it
is what makes a section differ; any other difference is printed and fails (exit status 1)."""
import difflib
import json
import os
import sys

# /proc/self/limits labels of the OCI rlimit names.
LIMIT_LABELS = {
    "RLIMIT_CPU": "Max cpu time", "RLIMIT_FSIZE": "Max file size",
    "RLIMIT_DATA": "Max data size", "RLIMIT_STACK": "Max stack size",
    "RLIMIT_CORE": "Max core file size", "RLIMIT_RSS": "Max resident set",
    "RLIMIT_NPROC": "Max processes", "RLIMIT_NOFILE": "Max open files",
    "RLIMIT_MEMLOCK": "Max locked memory", "RLIMIT_AS": "Max address space",
    "RLIMIT_LOCKS": "Max file locks", "RLIMIT_SIGPENDING": "Max pending signals",
    "RLIMIT_MSGQUEUE": "Max msgqueue size", "RLIMIT_NICE": "Max nice priority",
    "RLIMIT_RTPRIO": "Max realtime priority", "RLIMIT_RTTIME": "Max realtime timeout",
}


def limits_in_spec(lines, spec):
    wanted = {LIMIT_LABELS[r["type"]] for r in spec.get("process", {}).get("rlimits", [])
              if r["type"] in LIMIT_LABELS}
    return [l for l in lines if l.startswith("Limit") or any(l.startswith(w) for w in wanted)]


def hostname_if_in_spec(lines, spec):
    return lines if spec.get("hostname") else []


def absent_is_hidden(lines, spec):
    return [l[: -len("absent")] + "hidden" if l.endswith(" absent") else l for l in lines]


def without_masked_mounts(lines, spec):
    masked = set(spec.get("linux", {}).get("maskedPaths", []))
    return [l for l in lines if l.split(" ")[0] not in masked]


def sysfs_super_options(lines, spec):
    out = []
    for l in lines:
        f = l.split(" ")
        out.append(" ".join(f[:3] + ["(superblock)"]) if f[1:2] == ["sysfs"] else l)
    return out


def devtmpfs_size(lines, spec):
    out = []
    for l in lines:
        f = l.split(" ")
        if f[1:2] == ["devtmpfs"]:
            f[3] = ",".join(o for o in f[3].split(",") if not o.startswith(("size=", "nr_inodes=")))
        out.append(" ".join(f))
    return out


def userns_cgroup_binds(lines, spec):
    namespaces = [n.get("type") for n in spec.get("linux", {}).get("namespaces", [])]
    if "user" not in namespaces:
        return lines
    return [" ".join(l.split(" ")[:2] + ["(options)"] + l.split(" ")[3:])
            if l.startswith("/sys/fs/cgroup") else l for l in lines]


# Each: (section, reason, normalisation of one side's lines given the spec), applied to both.
KNOWN = [
    ("limits", "an rlimit the spec does not set is inherited: from runc's caller on the host, "
               "from the guest's agent in a VM (defaults that follow the machine's memory); "
               "the ones the spec sets are compared", limits_in_spec),
    ("hostname", "the spec sets no hostname: a new UTS namespace keeps its creator's, the host's "
                 "under runc and the guest's in a VM", hostname_if_in_spec),
    ("masked", "which /proc and /sys files exist is the kernel's (the host's for runc, the "
               "guest's in a VM): a masked path that one kernel lacks is as hidden as a masked "
               "one", absent_is_hidden),
    ("mounts", "the masks over masked paths follow which of them the kernel has; they are "
               "compared in 'masked'", without_masked_mounts),
    ("mounts", "sysfs belongs to a network namespace: runc mounts a new one's (its superblock "
               "read-only), a VM's container shares the guest's network namespace and its "
               "read-write superblock; the mount itself is read-only in both",
     sysfs_super_options),
    ("mounts", "in a user namespace (runc spec --rootless) the device nodes are bind mounts of "
               "the machine's devtmpfs, whose size= and nr_inodes= follow its memory",
     devtmpfs_size),
    ("mounts", "in a user namespace runc 1.1.5 mounts /sys/fs/cgroup's tmpfs and binds the "
               "hierarchies without the spec's options (rw,relatime); we apply the spec's "
               "(ro,nosuid,nodev,noexec), as runc does without a user namespace",
     userns_cgroup_binds),
]

# Applied to both sides together: the v1 cgroup hierarchies are the mounting kernel's.
CGROUP_REASON = ("the v1 cgroup hierarchies under /sys/fs/cgroup are the kernel's: the host's "
                 "for runc, the guest's in a VM; the ones both have are compared")


def common_cgroups(a, b):
    def hierarchies(lines):
        return {l.split(" ")[0] for l in lines if l.startswith("/sys/fs/cgroup/")}
    both = hierarchies(a) & hierarchies(b)

    def keep(lines):
        # The common ones, sorted, where the first hierarchy was (the mounting order is also
        # the machine's).
        common = sorted(l for l in lines if l.split(" ")[0] in both)
        out, placed = [], False
        for l in lines:
            if not l.startswith("/sys/fs/cgroup/"):
                out.append(l)
            elif not placed:
                out.extend(common)
                placed = True
        return out
    return keep(a), keep(b)


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


def show_diff(name, sec, a, b):
    print(f"{name}: section {sec} differs (- runc, + kata-runtime)")
    for line in difflib.unified_diff(a or [], b or [], lineterm="", n=1):
        if not line.startswith(("---", "+++")):
            print(f"  {line}")


def main(name, bundle):
    spec = json.load(open(os.path.join(bundle, "config.json")))
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
    if "end" not in rs:
        print(f"{name}: the probe did not finish under runc")
        bad += 1
    for sec in dict.fromkeys(list(rs) + list(ks)):
        a, b = rs.get(sec), ks.get(sec)
        if a == b:
            continue
        if a is None or b is None:
            show_diff(name, sec, a, b)
            bad += 1
            continue
        reasons = []
        for known_sec, reason, normalise in KNOWN:
            if known_sec != sec:
                continue
            na, nb = normalise(a, spec), normalise(b, spec)
            if (na, nb) != (a, b):
                reasons.append(reason)
            a, b = na, nb
        if sec == "mounts":
            na, nb = common_cgroups(a, b)
            if (na, nb) != (a, b):
                reasons.append(CGROUP_REASON)
            a, b = na, nb
        for reason in reasons:
            print(f"{name}: known difference in {sec}: {reason}")
        if a != b:
            show_diff(name, sec, a, b)
            bad += 1
    print(f"{name}: {'same view' if not bad else f'{bad} unexplained difference(s)'} "
          f"(exit status {runc['rc'].strip()}, {len(rs)} sections)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
