#!/usr/bin/env python3
"""Compare `ipvsadm -lnc` snapshots (kernel) with `lvsd simulate` output (model).

usage: compare-snapshots.py EXPECTED GOT
Both files hold `--- at=T` sections of `ipvsadm -lnc` body lines. Entries match on protocol,
state and the three addresses; expire may differ by 1 s. An entry listed with 00:00 on one side
may be missing on the other (the kernel's timer wheel fires late; see tests/vm/README.md).
Exit 0 if every section matches, 1 otherwise (differences printed)."""
import sys


def parse(path):
    snaps, cur = {}, None
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("--- at="):
            cur = line[7:]
            snaps[cur] = {}
        elif line.strip() and cur is not None:
            f = line.split()
            m, s = f[1].split(":")
            snaps[cur][(f[0], f[2], f[3], f[4], f[5])] = int(m) * 60 + int(s)
    return snaps


def main():
    exp, got = parse(sys.argv[1]), parse(sys.argv[2])
    bad = 0
    for at, e in exp.items():
        g = got.get(at)
        if g is None:
            print(f"at={at}: no section in the simulation")
            bad += 1
            continue
        for k in sorted(set(e) | set(g)):
            if k not in g:
                if e[k] > 0:
                    print(f"at={at}: missing in the simulation: {' '.join(k)} (expire {e[k]})")
                    bad += 1
            elif k not in e:
                if g[k] > 0:
                    print(f"at={at}: not in the kernel: {' '.join(k)} (expire {g[k]})")
                    bad += 1
            elif abs(e[k] - g[k]) > 1:
                print(f"at={at}: expire of {' '.join(k)}: kernel {e[k]}, simulation {g[k]}")
                bad += 1
    print(f"{len(exp)} snapshots, {bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
