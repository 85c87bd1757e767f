#!/usr/bin/env python3
"""Wraps an ext4 filesystem image into a disk image that boots both ways:

* virtio-blk: an MBR at offset 0 whose first partition holds the filesystem -> root=/dev/vda1
* nvdimm (QEMU -device nvdimm over the file): a Linux "pfn" info block at offset 4 KiB tells the
  guest's libnvdimm to create /dev/pmem0 with struct pages (so ext4 can mount it with DAX)
  starting at DATA_OFFSET; a second MBR there holds the same partition -> root=/dev/pmem0p1.

Layout (sizes in MiB):  0: MBR | 4 KiB: pfn info block | 2: MBR of pmem0 | 4: ext4 ... | end
The total size is rounded up to 2 MiB, the alignment libnvdimm requires at both ends.

The pfn info block follows struct nd_pfn_sb of the kernel's drivers/nvdimm/pfn.h (a binary
format, written from its field list): mode RAM keeps the struct pages in guest RAM, so the
guest never writes into the image, which QEMU maps read-only.
"""
import hashlib
import os
import struct
import sys

MiB = 1 << 20
DATA_OFFSET = 2 * MiB  # start of /dev/pmem0 inside the nvdimm
FS_OFFSET = 4 * MiB  # start of the partition, from the file's start
ALIGN = 2 * MiB
PAGE = 4096
PFN_MODE_RAM = 1


def fletcher64(data: bytes) -> int:
    """The kernel's nd_fletcher64() over little-endian 32-bit words."""
    lo, hi = 0, 0
    for (word,) in struct.iter_unpack("<I", data):
        lo = (lo + word) & 0xFFFFFFFF
        hi = (hi + lo) & 0xFFFFFFFFFFFFFFFF
    return ((hi << 32) | lo) & 0xFFFFFFFFFFFFFFFF


def pfn_info_block(total_size: int, uuid: bytes) -> bytes:
    npfns = (total_size - DATA_OFFSET) // PAGE
    fields = struct.pack(
        "<16s16s16sIHHQQIIIIIH",
        b"NVDIMM_PFN_INFO\0",
        uuid,
        bytes(16),  # parent uuid: a label-less QEMU nvdimm namespace has none
        0,  # flags
        1,  # version major
        4,  # version minor: page_size and page_struct_size are valid
        DATA_OFFSET,
        npfns,
        PFN_MODE_RAM,
        0,  # start_pad
        0,  # end_trunc
        ALIGN,
        PAGE,
        64,  # sizeof(struct page); only checked in PMEM mode
    )
    block = fields + bytes(4096 - 8 - len(fields))
    return block + struct.pack("<Q", fletcher64(block + bytes(8)))


def mbr(start: int, size: int, disk_id: int) -> bytes:
    """A DOS partition table with one Linux partition (type 0x83) at byte offset START."""
    lba, sectors = start // 512, size // 512
    # CHS fields are unused by Linux; 0xfe/0xff/0xff marks them "use LBA".
    entry = struct.pack("<B3sB3sII", 0x00, b"\xfe\xff\xff", 0x83, b"\xfe\xff\xff", lba, sectors)
    table = entry + bytes(16 * 3)
    return bytes(440) + struct.pack("<IH", disk_id, 0) + table + b"\x55\xaa"


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: pmem-layout.py FS_IMAGE OUT_IMAGE", file=sys.stderr)
        return 2
    fs_path, out_path = sys.argv[1], sys.argv[2]
    fs_size = os.path.getsize(fs_path)
    if fs_size == 0 or fs_size % PAGE:
        print(f"pmem-layout: {fs_path}: size {fs_size} is not a multiple of 4 KiB", file=sys.stderr)
        return 1
    total = FS_OFFSET + fs_size
    total = (total + ALIGN - 1) // ALIGN * ALIGN
    part_size = total - FS_OFFSET

    # Identifiers derive from the content, so the same rootfs gives the same bytes.
    digest = hashlib.sha256()
    with open(fs_path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            digest.update(chunk)
    ident = digest.digest()
    disk_id = struct.unpack("<I", ident[:4])[0]

    with open(out_path, "wb") as out:
        out.truncate(total)
        out.write(mbr(FS_OFFSET, part_size, disk_id))
        out.seek(4096)
        out.write(pfn_info_block(total, ident[4:20]))
        out.seek(DATA_OFFSET)
        out.write(mbr(FS_OFFSET - DATA_OFFSET, part_size, disk_id))
        out.seek(FS_OFFSET)
        with open(fs_path, "rb") as f:
            for chunk in iter(lambda: f.read(MiB), b""):
                out.write(chunk)
    return 0


if __name__ == "__main__":
    sys.exit(main())
