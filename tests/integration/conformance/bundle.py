#!/usr/bin/env python3
"""Turns a spec written by a real tool into a conformance bundle, and keeps what a captured
Docker spec needs once its dockerd is gone.

  bundle.py keep-bind-sources SPEC DIR
      copies every bind-mount source file of SPEC (Docker's resolv.conf, hostname, hosts)
      into DIR, while the dockerd that wrote them still runs.
  bundle.py prepare SPEC BUNDLE NAME CGROUP_PARENT [KEPT_DIR] [VARIANT]
      writes BUNDLE/config.json and BUNDLE/rootfs/probe.conf (the rootfs must exist).

The only changes made to a spec are the suite's own (each printed with its reason); the
variants add fields to exercise what the tools' defaults leave out.
"""
import json
import os
import shutil
import sys


def note(name, what):
    print(f"bundle {name}: {what}")


def keep_bind_sources(spec_path, out_dir):
    spec = json.load(open(spec_path))
    os.makedirs(out_dir, exist_ok=True)
    for m in spec.get("mounts", []):
        src = m.get("source", "")
        if m.get("type") == "bind" and os.path.isfile(src):
            shutil.copy(src, os.path.join(out_dir, os.path.basename(src)))


# Variants: a real tool's spec with more fields set, each of which runc honours.
def variant_user(spec):
    """runc's spec, run as a user with groups, umask, cwd, rlimits, oomScoreAdj, ambient caps."""
    p = spec["process"]
    p["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [2000, 3000], "umask": 0o027}
    p["cwd"] = "/tmp"
    p["env"].append("PROBE_VARIANT=user")
    caps = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID"]
    p["capabilities"] = {k: list(caps) for k in
                         ("bounding", "effective", "permitted", "inheritable", "ambient")}
    p["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 2048},
                    {"type": "RLIMIT_CORE", "hard": 1048576, "soft": 0},
                    {"type": "RLIMIT_NPROC", "hard": 500, "soft": 400},
                    {"type": "RLIMIT_STACK", "hard": 16777216, "soft": 8388608}]
    p["oomScoreAdj"] = 300
    p["noNewPrivileges"] = False
    spec["root"]["readonly"] = False
    spec["hostname"] = "variant-user"
    linux = spec["linux"]
    linux["sysctl"] = {"kernel.shmmni": "2048", "kernel.msgmax": "16384"}
    linux["maskedPaths"].append("/proc/cpuinfo")
    linux["readonlyPaths"].append("/proc/self/attr")
    spec["mounts"].append({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                           "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=1770",
                                       "uid=1000", "gid=2000"]})
    spec["mounts"].append({"destination": "/ro-tmpfs", "type": "tmpfs", "source": "tmpfs",
                           "options": ["ro", "size=512k"]})


def variant_lsm(spec):
    """host security labels: dockerd's AppArmor profile, SELinux process and mount labels."""
    spec["process"]["apparmorProfile"] = "docker-default"
    spec["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0:c1,c2"
    spec["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0:c1,c2"


def variant_intelrdt(spec):
    """an Intel RDT class."""
    spec["linux"]["intelRdt"] = {"l3CacheSchema": "L3:0=ff"}


def variant_hook(spec):
    """a createContainer hook (it would run in the container's namespaces)."""
    spec["hooks"] = {"createContainer": [{"path": "/bin/true"}]}


VARIANTS = {"user": variant_user, "lsm": variant_lsm, "intelrdt": variant_intelrdt,
            "hook": variant_hook}


def prepare(spec_path, bundle, name, cgroup_parent, kept_dir, variant):
    spec = json.load(open(spec_path))
    p = spec.setdefault("process", {})
    # The probe is the process; stdout and stderr are compared apart, so no terminal.
    p["args"] = ["/bin/sh", "/probe.sh"]
    p["terminal"] = False
    p.pop("consoleSize", None)
    p.setdefault("cwd", "/")
    p.setdefault("env", ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
    spec["root"]["path"] = "rootfs"
    linux = spec.setdefault("linux", {})
    if linux.get("cgroupsPath"):
        # A cgroup of our own (the tools' "/default", "/docker/<id>" could be someone else's).
        linux["cgroupsPath"] = f"{cgroup_parent}/{name}"
        note(name, f"cgroupsPath -> {linux['cgroupsPath']}")
    if spec.pop("hooks", None):
        # Docker's libnetwork-setkey hook calls back into the dockerd that wrote the spec.
        note(name, "hooks removed: they call back into the dockerd that is gone")
    for m in spec.get("mounts", []):
        src = m.get("source", "")
        if kept_dir and m.get("type") == "bind" and os.path.isabs(src):
            kept = os.path.join(kept_dir, os.path.basename(src))
            if os.path.isfile(kept):
                m["source"] = kept
                note(name, f"{m['destination']}: source is the copy kept from dockerd")
    if variant:
        VARIANTS[variant](spec)
        note(name, f"variant {variant}: {VARIANTS[variant].__doc__}")
    with open(os.path.join(bundle, "rootfs", "probe.conf"), "w") as conf:
        for path in linux.get("maskedPaths", []):
            conf.write(f"masked {path}\n")
        for path in linux.get("readonlyPaths", []):
            conf.write(f"readonly {path}\n")
        for key in sorted(linux.get("sysctl", {})):
            conf.write(f"sysctl {key}\n")
    with open(os.path.join(bundle, "config.json"), "w") as out:
        json.dump(spec, out, indent=1)


def main(argv):
    if len(argv) >= 3 and argv[0] == "keep-bind-sources":
        keep_bind_sources(argv[1], argv[2])
    elif len(argv) >= 5 and argv[0] == "prepare":
        prepare(argv[1], argv[2], argv[3], argv[4], argv[5] if len(argv) > 5 else "",
                argv[6] if len(argv) > 6 else "")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
