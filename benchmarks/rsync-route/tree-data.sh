# Sourced by the dir: benchmarks: the tree they keep copies of, and its change per round.
# make_tree ROOT FILES FILE_KIB: FILES files of FILE_KIB KiB of random data (seeded) in 40 directories.
# change_tree ROOT FILES ROUND: 4 KiB rewritten in place in 1 % of the files (at a 4 KiB boundary), one file deleted,
# one 64 KiB file added.
make_tree() {
  python3 - "$1" "$2" "$3" <<'PY'
import os, random, sys
root, files, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(1)
for i in range(files):
    d = os.path.join(root, f"d{i % 40:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
        f.write(rnd.randbytes(kib * 1024))
PY
}

change_tree() {
  python3 - "$1" "$2" "$3" <<'PY'
import os, random, sys
root, files, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(100 + r)
paths = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs)
for p in rnd.sample(paths, max(1, files // 100)):
    size = os.path.getsize(p)
    with open(p, "r+b") as f:
        f.seek(rnd.randrange(max(1, size - 4096)) // 4096 * 4096)
        f.write(rnd.randbytes(4096))
os.remove(rnd.choice(paths))
with open(os.path.join(root, "d00", f"new{r}.bin"), "wb") as f:
    f.write(rnd.randbytes(64 * 1024))
PY
}
