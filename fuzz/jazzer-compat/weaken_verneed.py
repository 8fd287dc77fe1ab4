"""Marks version references of an ELF file weak (VER_FLG_WEAK), so the loader
accepts a libc/libstdc++ without them; the symbols that needed them are
supplied by shim.cc. Usage: weaken_verneed.py FILE VERSION…"""
import struct
import sys

VER_FLG_WEAK = 0x2


def main(path, versions):
    data = bytearray(open(path, 'rb').read())
    assert data[:4] == b'\x7fELF' and data[4] == 2 and data[5] == 1, 'a 64-bit little-endian ELF file'
    shoff, = struct.unpack_from('<Q', data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', data, 0x3A)
    sections = [struct.unpack_from('<IIQQQQIIQQ', data, shoff + i * shentsize) for i in range(shnum)]
    verneed = next(s for s in sections if s[1] == 0x6ffffffe)  # SHT_GNU_verneed
    strtab = sections[verneed[6]]  # sh_link: the string table of the names
    def name(off):
        start = strtab[4] + off
        return bytes(data[start:data.index(0, start)]).decode()
    done = set()
    at = verneed[4]
    while True:
        _, cnt, _, aux, nxt = struct.unpack_from('<HHIII', data, at)
        a = at + aux
        for _ in range(cnt):
            _, flags, _, vname, anext = struct.unpack_from('<IHHII', data, a)
            if name(vname) in versions:
                struct.pack_into('<H', data, a + 4, flags | VER_FLG_WEAK)
                done.add(name(vname))
            a += anext
        if nxt == 0:
            break
        at += nxt
    missing = set(versions) - done
    if missing:
        sys.exit(f'weaken_verneed: {path} has no reference to {sorted(missing)}')
    open(path, 'wb').write(data)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2:])
