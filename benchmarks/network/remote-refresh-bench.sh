#!/usr/bin/env bash
# Paired benchmarks of DeltaSnap's remote refresh (issue 13) against the raw pipes it replaces. Run as root from the
# repository root (it times the tool as users install it, benchmarks/publish-tool.sh, unless CLI names another):
#
#   benchmarks/network/remote-refresh-bench.sh [full|incremental|compression|all]
#
#   full         full send of a large lvol volume over loopback mutual TLS (deltasnap serve) against socat's OpenSSL
#                piping the same bytes (the volume's image file) into a file: SIZE_GIB (default 4), RUNS (default 5)
#   incremental  1 % of the 4 KiB blocks of a 1 GiB file rewritten at random on Btrfs, refreshed across a veth pair
#                between two network namespaces limited by tbf to 1 Gbit/s: DeltaSnap (tls://) against
#                `btrfs send -p | socat OPENSSL | btrfs receive`; wire bytes from the veth counters
#   incremental-zfs  the same on ZFS (the pools of scripts/backends/up.sh: source its env.sh first) against
#                `zfs send -i | socat OPENSSL | zfs receive -F`
#   incremental-rbd  the same on Ceph RBD (a 1 GiB image in pool rbd to one in rbd2; the cluster of
#                scripts/backends/up.sh: source its env.sh first) against `rbd export-diff | socat OPENSSL | rbd import-diff`.
#                The test cluster listens on 127.0.0.1 of this namespace only: socat bridges each of its ports into both
#                namespaces through a Unix socket (not through the veth, so the link's limit and counters are the
#                session's alone). DeltaSnap's client and server and the raw pipe's rbd commands all reach the cluster
#                through those bridges alike.
#   compression  a compressible 1 GiB lvol volume, full send across the same 1 Gbit/s link with --compress none|lz4|zstd
#
# Runs are paired and interleaved (the order alternates), results are medians and the median of per-run ratios;
# the load average is printed with them. Everything it makes lives under $WORK (default /tmp/dsnet-bench-PID) and
# in namespaces named dsnb<PID>[sc]; both are removed at the end.
set -euo pipefail

MODE=${1:-all}
SIZE_GIB=${SIZE_GIB:-4}
RUNS=${RUNS:-5}
RAW_BLOCK=${RAW_BLOCK:-131072}   # socat's block size (its default, 8192, makes the raw pipe slower than it need be)
WORK=${WORK:-/tmp/dsnet-bench-$$}
CLI=${CLI:-$("$(dirname "$0")/../publish-tool.sh")}
case "$CLI" in *.dll) DS=(dotnet exec "$CLI") ;; *) DS=("$CLI") ;; esac
NS_S=dsnb$$s NS_C=dsnb$$c LINK_S=dsnb$$S LINK_C=dsnb$$C
IP_S=10.214.$((RANDOM % 250)).1
IP_C=${IP_S%.1}.2
PIDS=()
ZFS_DATASETS=()
RBD_IMAGES=()
NEED=()

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for m in "$WORK"/bt-a "$WORK"/bt-b; do mountpoint -q "$m" 2>/dev/null && umount "$m" || true; done
    # (DeltaSnap's delete releases its holds on the common base; plain zfs destroy -r would refuse.)
    for d in "${ZFS_DATASETS[@]}"; do "${DS[@]}" volume delete "zfs:$d" --yes > /dev/null 2>&1 || zfs destroy -r "$d" 2>/dev/null || true; done
    for image in "${RBD_IMAGES[@]}"; do
        "${DS[@]}" volume delete "rbd:$image" --yes > /dev/null 2>&1 || { rbd snap purge "$image" > /dev/null 2>&1; rbd rm "$image" > /dev/null 2>&1; } || true
    done
    ip netns del "$NS_S" 2>/dev/null || true
    ip netns del "$NS_C" 2>/dev/null || true
    rm -rf "$WORK"
}
# The raw pipes' tools (socat is not among the test command's packages).
for tool in socat:socat openssl:openssl ip:iproute2 nsenter:util-linux; do
    command -v "${tool%%:*}" > /dev/null || NEED+=("${tool#*:}")
done
if [ "${#NEED[@]}" -gt 0 ]; then
    echo "installing ${NEED[*]} with apt" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${NEED[@]}" > /dev/null
fi
trap cleanup EXIT
mkdir -p "$WORK"
cd "$WORK"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) m=a[(NR+1)/2]; else m=(a[NR/2]+a[NR/2+1])/2; printf "%.6f\n", m}'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

certificates() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -subj /CN=bench-ca -days 1 \
        -addext basicConstraints=critical,CA:TRUE 2>/dev/null
    for n in server client; do
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.csr -subj /CN=$n 2>/dev/null
        openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.crt -days 1 \
            -extfile <(printf "subjectAltName=IP:127.0.0.1,IP:%s,DNS:localhost" "$IP_S") 2>/dev/null
    done
    printf 'client write lvol:%s/\nclient write btrfs:%s/\n' "$WORK" "$WORK" > authorize
    TLS=(--tls-cert client.crt --tls-key client.key --tls-trust ca.pem)
}

# serve NS ADDRESS: starts deltasnap serve (in namespace NS, or here when NS is -), sets SERVE_AT
serve() {
    local ns=$1 at=$2 out=$WORK/serve-$RANDOM.out
    local run=()
    [[ $ns != - ]] && run=(nsenter --net="/run/netns/$ns")   # not in_ns: a function run with & is a subshell, and $! its pid
    "${run[@]}" "${DS[@]}" serve --listen "$at" --cert server.crt --key server.key --trust ca.pem --authorize authorize \
        --log-level warning > "$out" 2> "$out.err" &
    PIDS+=($!)
    for _ in $(seq 300); do grep -q listening "$out" 2>/dev/null && break; sleep 0.1; done
    SERVE_AT=$(awk '{print $3}' "$out")
}

network() {
    ip netns add "$NS_S"; ip netns add "$NS_C"
    ip link add "$LINK_S" type veth peer name "$LINK_C"
    ip link set "$LINK_S" netns "$NS_S"; ip link set "$LINK_C" netns "$NS_C"
    ip -n "$NS_S" addr add "$IP_S/30" dev "$LINK_S"; ip -n "$NS_C" addr add "$IP_C/30" dev "$LINK_C"
    for x in "$NS_S $LINK_S" "$NS_C $LINK_C"; do
        set -- $x
        ip -n "$1" link set lo up; ip -n "$1" link set "$2" up
        ip netns exec "$1" tc qdisc add dev "$2" root tbf rate 1gbit burst 256kb latency 50ms
    done
}
# in_ns NS CMD...: runs CMD in network namespace NS only. (`ip netns exec` also gives it a mount namespace of its own,
# where zfs-fuse's mounts, made by its daemon in ours, are not seen: a server there finds its received datasets unmounted
# and cannot mount them, "busy".)
# A command started with & must be `nsenter --net=… CMD &` itself (nsenter becomes CMD), so that $! is its pid and cleanup
# can stop it; `in_ns … &` would give the pid of a subshell, whose child outlives it.
in_ns() { nsenter --net="/run/netns/$1" "${@:2}"; }
tx_bytes() { ip netns exec "$NS_C" cat "/sys/class/net/$LINK_C/statistics/tx_bytes"; }
rx_bytes() { ip netns exec "$NS_C" cat "/sys/class/net/$LINK_C/statistics/rx_bytes"; }

full() {
    echo "== full send: ${SIZE_GIB} GiB lvol volume (random data), loopback TLS 1.3, $RUNS paired runs; load before: $(load)"
    head -c "${SIZE_GIB}G" /dev/urandom > image.bin
    "${DS[@]}" lvol create-store src.lvs --cluster-size 1M > /dev/null
    "${DS[@]}" lvol create src.lvs vm --size "${SIZE_GIB}G" > /dev/null
    "${DS[@]}" lvol import src.lvs vm image.bin > /dev/null
    "${DS[@]}" snapshot create "lvol:$WORK/src.lvs#vm" s1 > /dev/null
    serve - 127.0.0.1:0
    local port=${SERVE_AT##*:} ds raw
    : > ds.times; : > raw.times; : > ratio.times
    for run in $(seq "$RUNS"); do
        rm -f dst.lvs copy.bin
        for order in $( ((run % 2)) && echo "ds raw" || echo "raw ds"); do
            if [[ $order == ds ]]; then
                local t0; t0=$(now)
                "${DS[@]}" refresh "lvol:$WORK/src.lvs#vm" "tls://$SERVE_AT/lvol:$WORK/dst.lvs#vm" --compress none "${TLS[@]}" > /dev/null
                ds=$(echo "$(now) - $t0" | bc -l)
            else
                socat -b "$RAW_BLOCK" -u OPENSSL-LISTEN:$((port + 1)),bind=127.0.0.1,reuseaddr,cert=server.crt,key=server.key,cafile=ca.pem,verify=1 CREATE:copy.bin &
                local listener=$!
                sleep 0.3
                local t0; t0=$(now)
                socat -b "$RAW_BLOCK" -u FILE:image.bin OPENSSL:127.0.0.1:$((port + 1)),cert=client.crt,key=client.key,cafile=ca.pem,verify=1
                wait "$listener"
                raw=$(echo "$(now) - $t0" | bc -l)
            fi
        done
        echo "$ds" >> ds.times; echo "$raw" >> raw.times; echo "$ds / $raw" | bc -l >> ratio.times
        printf '  run %d: deltasnap %.2f s, socat+openssl %.2f s\n' "$run" "$ds" "$raw"
    done
    printf 'full %s GiB: deltasnap median %.2f s, raw TLS pipe median %.2f s, ratio (median of paired) %.2f; load after: %s\n' \
        "$SIZE_GIB" "$(median < ds.times)" "$(median < raw.times)" "$(median < ratio.times)" "$(load)"
    rm -f image.bin copy.bin dst.lvs src.lvs
}

btrfs_fs() {
    truncate -s 3G "bt-$1.img"; mkfs.btrfs -q "bt-$1.img"; mkdir -p "bt-$1"; mount -o loop "bt-$1.img" "bt-$1"
}

# The incremental case on one backend: setup_B makes the source (SRC_FILE, snapshot s0) and both copies of s0 (DeltaSnap's
# at DS_TARGET, the raw pipe's), snapshot_B RUN makes snapshot sRUN for both, raw_send_B PREV RUN writes the raw
# incremental stream to standard output, RAW_RECEIVE is the command that receives it on the server's side.
incremental() {
    local backend=$1
    echo "== incremental ($backend): 1 % of 4 KiB blocks of a 1 GiB file, across veth + tbf 1gbit, $RUNS paired runs; load before: $(load)"
    "setup_$backend"
    : > ds.times; : > raw.times; : > ratio.times; : > ds.wire; : > raw.wire
    local port=$((${SERVE_AT##*:} + 1)) prev=0 ds raw
    for run in $(seq "$RUNS"); do
        if declare -F "modify_$backend" > /dev/null; then "modify_$backend" "$run"; else
        python3 - "$SRC_FILE" "$run" <<'PY2'
import os, random, sys
path, seed = sys.argv[1], int(sys.argv[2])
blocks = os.path.getsize(path) // 4096
r = random.Random(seed)
with open(path, "r+b") as f:
    for b in r.sample(range(blocks), blocks // 100):
        f.seek(b * 4096); f.write(os.urandom(4096))
PY2
        fi
        sync
        "snapshot_$backend" "$run"
        for order in $( ((run % 2)) && echo "ds raw" || echo "raw ds"); do
            local b0 t0; b0=$(( $(tx_bytes) + $(rx_bytes) )); t0=$(now)
            if [[ $order == ds ]]; then
                # The last run logs at debug level: its "Sent N requests" line is the round trips of one refresh.
                local logging=(); ((run == RUNS)) && logging=(--log-level debug)
                ip netns exec "$NS_C" "${DS[@]}" refresh "$SRC" "tls://$SERVE_AT/$DS_TARGET" --snapshots-only --compress none "${TLS[@]}" \
                    "${logging[@]}" > /dev/null 2> ds.log || { cat ds.log >&2; exit 1; }
                ds=$(echo "$(now) - $t0" | bc -l); echo $(( $(tx_bytes) + $(rx_bytes) - b0 )) >> ds.wire
            else
                nsenter --net="/run/netns/$NS_S" socat -b "$RAW_BLOCK" -u OPENSSL-LISTEN:$port,bind=$IP_S,reuseaddr,cert=server.crt,key=server.key,cafile=ca.pem,verify=1 \
                    SYSTEM:"$RAW_RECEIVE" &
                local listener=$!
                sleep 0.3
                b0=$(( $(tx_bytes) + $(rx_bytes) )); t0=$(now)
                "raw_send_$backend" "$prev" "$run" \
                    | ip netns exec "$NS_C" socat -b "$RAW_BLOCK" -u STDIN OPENSSL:$IP_S:$port,cert=client.crt,key=client.key,cafile=ca.pem,verify=1
                wait "$listener"
                raw=$(echo "$(now) - $t0" | bc -l); echo $(( $(tx_bytes) + $(rx_bytes) - b0 )) >> raw.wire
            fi
        done
        prev=$run
        echo "$ds" >> ds.times; echo "$raw" >> raw.times; echo "$ds / $raw" | bc -l >> ratio.times
        printf '  run %d: deltasnap %.2f s (%s wire bytes), %s %.2f s (%s wire bytes)\n' \
            "$run" "$ds" "$(tail -1 ds.wire)" "$RAW_NAME" "$raw" "$(tail -1 raw.wire)"
    done
    grep -o 'Sent [0-9]* requests.*' ds.log || true
    printf 'incremental 1%% (%s): deltasnap median %.2f s, raw pipe median %.2f s, ratio %.2f; wire bytes median deltasnap %.0f, raw %.0f; load after: %s\n' \
        "$backend" "$(median < ds.times)" "$(median < raw.times)" "$(median < ratio.times)" "$(median < ds.wire)" "$(median < raw.wire)" "$(load)"
}

setup_btrfs() {
    btrfs_fs a; btrfs_fs b
    btrfs subvolume create bt-a/vol > /dev/null
    SRC_FILE=$WORK/bt-a/vol/disk.img SRC=btrfs:$WORK/bt-a/vol DS_TARGET=btrfs:$WORK/bt-b/ds
    RAW_RECEIVE="btrfs receive -q $WORK/bt-b/raw" RAW_NAME="btrfs send|socat|receive"
    head -c 1G /dev/urandom > "$SRC_FILE"
    btrfs subvolume snapshot -r bt-a/vol bt-a/vol.s0 > /dev/null    # the raw pipe's base
    "${DS[@]}" snapshot create "$SRC" s0 > /dev/null
    serve "$NS_S" "$IP_S:0"
    # Both sides start from s0: DeltaSnap's copy at bt-b/ds, the raw pipe's at bt-b/raw.
    ip netns exec "$NS_C" "${DS[@]}" refresh "$SRC" "tls://$SERVE_AT/$DS_TARGET" --snapshots-only "${TLS[@]}" > /dev/null
    mkdir -p bt-b/raw; btrfs send -q bt-a/vol.s0 | btrfs receive -q bt-b/raw
}
snapshot_btrfs() {
    btrfs subvolume snapshot -r bt-a/vol "bt-a/vol.s$1" > /dev/null
    "${DS[@]}" snapshot create "$SRC" "s$1" > /dev/null
}
raw_send_btrfs() { btrfs send -q -p "bt-a/vol.s$1" "bt-a/vol.s$2"; }

# ZFS: the pools of scripts/backends/up.sh (DELTASNAP_ZFS_POOL_A and _B; source /tmp/dsb/env.sh). The raw pipe sends
# the same snapshots DeltaSnap made and receives with -F, as syncoid does.
setup_zfs() {
    local a=${DELTASNAP_ZFS_POOL_A:?source the env.sh of scripts/backends/up.sh} b=${DELTASNAP_ZFS_POOL_B:?}
    ZFS_DATASETS=("$a/nb$$" "$b/nb$$ds" "$b/nb$$raw")
    zfs create "$a/nb$$"
    SRC_FILE=$(zfs get -H -o value mountpoint "$a/nb$$")/disk.img SRC=zfs:$a/nb$$ DS_TARGET=zfs:$b/nb$$ds
    RAW_RECEIVE="zfs receive -F $b/nb$$raw" RAW_NAME="zfs send -i|socat|receive -F"
    head -c 1G /dev/urandom > "$SRC_FILE"
    "${DS[@]}" snapshot create "$SRC" s0 > /dev/null
    printf 'client write zfs:%s/\n' "$b" >> authorize
    serve "$NS_S" "$IP_S:0"
    ip netns exec "$NS_C" "${DS[@]}" refresh "$SRC" "tls://$SERVE_AT/$DS_TARGET" --snapshots-only "${TLS[@]}" > /dev/null
    zfs send "$a/nb$$@s0" | zfs receive "$b/nb$$raw"
}
snapshot_zfs() { "${DS[@]}" snapshot create "$SRC" "s$1" > /dev/null; }
raw_send_zfs() { zfs send -i "@s$1" "${SRC#zfs:}@s$2"; }

# RBD: the cluster of scripts/backends/up.sh (source its env.sh). Its monitor and OSD listen on 127.0.0.1 here; each of
# their ports is bridged into both namespaces (socat: TCP on the namespace's 127.0.0.1 -> a Unix socket -> TCP here).
ceph_bridge() {
    local ports; ports=$(ss -ltnpH | awk '/ceph-(mon|osd)/ && $4 ~ /^127\.0\.0\.1:/ {sub(/.*:/, "", $4); print $4}' | sort -u)
    [[ -n $ports ]] || { echo "no Ceph daemon listens on 127.0.0.1 (scripts/backends/up.sh)" >&2; exit 1; }
    for p in $ports; do
        socat UNIX-LISTEN:"$WORK/ceph-$p.sock",fork TCP:127.0.0.1:"$p" & PIDS+=($!)
        for ns in "$NS_S" "$NS_C"; do
            nsenter --net="/run/netns/$ns" socat TCP-LISTEN:"$p",bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:"$WORK/ceph-$p.sock" & PIDS+=($!)
        done
    done
    sleep 0.5
}
setup_rbd() {
    : "${CEPH_CONF:?source the env.sh of scripts/backends/up.sh}"
    ceph_bridge
    local image=nb$$
    RBD_IMAGES=("rbd/$image" "rbd2/${image}ds" "rbd2/${image}raw")
    SRC=rbd:rbd/$image DS_TARGET=rbd:rbd2/${image}ds RBD_SRC=rbd/$image
    RAW_RECEIVE="rbd import-diff --no-progress - rbd2/${image}raw" RAW_NAME="rbd export-diff|socat|import-diff"
    head -c 1G /dev/urandom > rbd-image.bin
    rbd import --no-progress rbd-image.bin "rbd/$image" > /dev/null; rm -f rbd-image.bin
    "${DS[@]}" snapshot create "$SRC" s0 > /dev/null
    printf 'client write rbd:rbd2/\n' >> authorize
    serve "$NS_S" "$IP_S:0"
    ip netns exec "$NS_C" "${DS[@]}" refresh "$SRC" "tls://$SERVE_AT/$DS_TARGET" --snapshots-only "${TLS[@]}" > /dev/null
    rbd create --size 1G "rbd2/${image}raw"
    rbd export-diff --no-progress "rbd/$image@s0" - | rbd import-diff --no-progress - "rbd2/${image}raw"
}
# 1 % of the image's 4 KiB blocks rewritten with random data at random distinct blocks (an rbd diff v1, imported).
modify_rbd() {
    python3 - "$1" > rbd-change.diff <<'PY3'
import os, random, struct, sys
size = 1 << 30; blocks = size // 4096; r = random.Random(int(sys.argv[1]))
out = sys.stdout.buffer
out.write(b"rbd diff v1\n"); out.write(b"s" + struct.pack("<Q", size))
for b in sorted(r.sample(range(blocks), blocks // 100)):
    out.write(b"w" + struct.pack("<QQ", b * 4096, 4096) + os.urandom(4096))
out.write(b"e")
PY3
    rbd import-diff --no-progress rbd-change.diff "$RBD_SRC"; rm -f rbd-change.diff
}
snapshot_rbd() { "${DS[@]}" snapshot create "$SRC" "s$1" > /dev/null; }
# Read through the client namespace's bridge, as DeltaSnap's client reads.
raw_send_rbd() { in_ns "$NS_C" rbd export-diff --no-progress --from-snap "s$1" "$RBD_SRC@s$2" -; }

compression() {
    echo "== compression: 1 GiB compressible lvol volume, full send across veth + tbf 1gbit, $RUNS rounds; load before: $(load)"
    # Compressible: text-like lines of words, 16 MiB made once and repeated (the repeats are further apart than the
    # compressors' windows, so they see text all the way: about 2x with lz4, more with zstd).
    python3 - <<'PY' > text16.bin
import random, sys
r = random.Random(1)
words = [''.join(r.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(r.randint(2, 9))) for _ in range(5000)]
lines = []
size = 0
while size < (16 << 20):
    line = ' '.join(r.choices(words, k=12)) + '\n'
    lines.append(line); size += len(line)
sys.stdout.write(''.join(lines))
PY
    for _ in $(seq 64); do cat text16.bin; done > text.bin
    truncate -s 1G text.bin
    "${DS[@]}" lvol create-store csrc.lvs --cluster-size 1M > /dev/null
    "${DS[@]}" lvol create csrc.lvs vm --size 1G > /dev/null
    "${DS[@]}" lvol import csrc.lvs vm text.bin > /dev/null
    "${DS[@]}" snapshot create "lvol:$WORK/csrc.lvs#vm" s1 > /dev/null
    [[ -n ${SERVE_AT:-} && $SERVE_AT == $IP_S:* ]] || serve "$NS_S" "$IP_S:0"
    for m in none lz4 zstd; do : > "c-$m.times"; : > "c-$m.wire"; done
    for run in $(seq "$RUNS"); do
        local modes=(none lz4 zstd)
        ((run % 2)) || modes=(zstd lz4 none)
        for m in "${modes[@]}"; do
            rm -f "cdst-$m.lvs"
            local b0 t0; b0=$(( $(tx_bytes) + $(rx_bytes) )); t0=$(now)
            ip netns exec "$NS_C" "${DS[@]}" refresh "lvol:$WORK/csrc.lvs#vm" "tls://$SERVE_AT/lvol:$WORK/cdst-$m.lvs#vm" --compress "$m" "${TLS[@]}" > /dev/null
            echo "$(now) - $t0" | bc -l >> "c-$m.times"; echo $(( $(tx_bytes) + $(rx_bytes) - b0 )) >> "c-$m.wire"
        done
        printf '  run %d: none %.2f s, lz4 %.2f s, zstd %.2f s\n' "$run" "$(tail -1 c-none.times)" "$(tail -1 c-lz4.times)" "$(tail -1 c-zstd.times)"
    done
    for m in none lz4 zstd; do
        printf 'compression %-4s: median %.2f s, wire bytes median %.0f\n' "$m" "$(median < "c-$m.times")" "$(median < "c-$m.wire")"
    done
    echo "load after: $(load)"
    rm -f text.bin cdst-*.lvs csrc.lvs
}

certificates
case $MODE in
    full) full ;;
    incremental) network; incremental btrfs ;;
    incremental-zfs) network; incremental zfs ;;
    incremental-rbd) network; incremental rbd ;;
    compression) network; compression ;;
    all) full; network; incremental btrfs; compression ;;
    *) echo "usage: $0 [full|incremental|incremental-zfs|incremental-rbd|compression|all]" >&2; exit 2 ;;
esac
