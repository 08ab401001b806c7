#!/usr/bin/env python3
"""Reports how many bytes of device code each GPU architecture adds to static libraries.

Reads the `.nv_fatbin` section of every object in the given `.a` files (CUDA's fatbin container:
a 16-byte header with magic 0xBA55ED50, then entries of machine code (ELF/SASS) or PTX, each with
its own header whose 8th 32-bit word is the architecture, e.g. 87 or 120) and sums the entries per
architecture and kind.

  python3 scripts/fatbin_sizes.py build/targets/gpu/libdse_gpu.a [more.a ...]
"""
import struct
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

KINDS = {1: "PTX", 2: "SASS"}


def fatbin_entries(blob):
    pos = 0
    while pos + 16 <= len(blob):
        magic, _version, header_size, fat_size = struct.unpack_from("<IHHQ", blob, pos)
        if magic != 0xBA55ED50:
            raise ValueError(f"bad fatbin magic {magic:#x} at byte {pos}")
        off, end = pos + header_size, pos + header_size + fat_size
        while off < end:
            kind, _v, entry_header, payload = struct.unpack_from("<HHIQ", blob, off)
            arch = struct.unpack_from("<I", blob, off + 28)[0]
            yield kind, arch, entry_header + payload
            off += entry_header + payload
        pos = end
        while pos < len(blob) and blob[pos] == 0:  # containers are padded
            pos += 1


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    totals = defaultdict(int)
    with tempfile.TemporaryDirectory() as tmp:
        for lib in sys.argv[1:]:
            members = subprocess.run(["ar", "t", lib], check=True, capture_output=True, text=True).stdout.split()
            subprocess.run(["ar", "x", str(Path(lib).resolve())], check=True, cwd=tmp)
            for member in members:
                obj, section = Path(tmp) / member, Path(tmp) / (member + ".fatbin")
                r = subprocess.run(["objcopy", "-O", "binary", "--only-section=.nv_fatbin", str(obj), str(section)],
                                   capture_output=True)
                if r.returncode != 0 or not section.exists() or section.stat().st_size == 0:
                    continue
                for kind, arch, size in fatbin_entries(section.read_bytes()):
                    totals[(arch, KINDS.get(kind, str(kind)))] += size
    print("arch   kind   bytes")
    for (arch, kind), size in sorted(totals.items()):
        print(f"sm_{arch:<4} {kind:<5} {size:>9,}")
    print(f"total         {sum(totals.values()):>9,}")


if __name__ == "__main__":
    main()
