#!/usr/bin/env python3
"""Writes a directory as a one-layer OCI image layout tarball, byte for byte the same each run.

Usage: oci_image.py ROOTFS_DIR IMAGE_NAME OUT_TAR [CMD_JSON]
The archive holds oci-layout, index.json and blobs/sha256/ (an uncompressed layer, the image
config and the manifest), as `ctr images import` reads it; IMAGE_NAME (a full reference, e.g.
docker.io/library/ctrd-busybox:latest) is the index entry's io.containerd.image.name
annotation. Every tar entry has mtime 0 and owner root, in sorted order, so that the digests
depend on the files' contents, modes and link targets only. CMD_JSON (a JSON list, default
["/bin/sh"]) is the image's Cmd: a CRI sandbox image gets its pause command there.
"""
import hashlib
import io
import json
import os
import platform
import stat
import sys
import tarfile

ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "ppc64le": "ppc64le", "s390x": "s390x"}


def normalized(info):
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def layer_tar(root):
    """The rootfs as an uncompressed tar, entries sorted, metadata normalized."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        paths = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                paths.append(os.path.join(dirpath, name))
        for path in sorted(paths, key=lambda p: os.path.relpath(p, root)):
            info = normalized(tar.gettarinfo(path, os.path.relpath(path, root)))
            if stat.S_ISREG(os.lstat(path).st_mode):
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return buf.getvalue()


def blob(blobs, media_type, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit("usage: oci_image.py ROOTFS_DIR IMAGE_NAME OUT_TAR [CMD_JSON]")
    root, name, out = sys.argv[1:4]
    cmd = json.loads(sys.argv[4]) if len(sys.argv) == 5 else ["/bin/sh"]
    if not isinstance(cmd, list) or not cmd or not all(isinstance(a, str) for a in cmd):
        sys.exit("oci_image.py: CMD_JSON must be a non-empty JSON list of strings")
    arch = ARCHES.get(platform.machine(), platform.machine())
    blobs = {}
    layer = blob(blobs, "application/vnd.oci.image.layer.v1.tar", layer_tar(root))
    config = blob(blobs, "application/vnd.oci.image.config.v1+json", canonical({
        "architecture": arch,
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": cmd, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
    }))
    manifest = blob(blobs, "application/vnd.oci.image.manifest.v1+json", canonical({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": [layer],
    }))
    manifest["platform"] = {"architecture": arch, "os": "linux"}
    manifest["annotations"] = {"io.containerd.image.name": name}
    files = {
        "oci-layout": canonical({"imageLayoutVersion": "1.0.0"}),
        "index.json": canonical({"schemaVersion": 2, "manifests": [manifest]}),
    }
    for digest, data in blobs.items():
        files["blobs/sha256/" + digest.split(":", 1)[1]] = data
    with tarfile.open(out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("blobs", "blobs/sha256"):
            info = normalized(tarfile.TarInfo(d))
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for path in sorted(files):
            info = normalized(tarfile.TarInfo(path))
            info.size, info.mode = len(files[path]), 0o644
            tar.addfile(info, io.BytesIO(files[path]))


if __name__ == "__main__":
    main()
