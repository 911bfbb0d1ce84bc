# Writes an rbd diff (v1) that rewrites PERCENT % of the 4 KiB blocks of an image of SIZE bytes with random data,
# at random distinct blocks: python3 scattered-diff.py SIZE PERCENT OUT; then `rbd import-diff OUT POOL/IMAGE`.
import os, random, struct, sys
size, pct, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
blocks = size // 4096
n = int(blocks * pct / 100)
with open(out, 'wb') as f:
    f.write(b"rbd diff v1\n")
    f.write(b's' + struct.pack('<Q', size))
    for b in sorted(random.sample(range(blocks), n)):
        f.write(b'w' + struct.pack('<QQ', b * 4096, 4096) + os.urandom(4096))
    f.write(b'e')
print(n)
