set -e
source /tmp/dsb/env.sh
DS=/work/main/artifacts/tool/DeltaSnap.Cli
Z=dsnapa/fl$$; B=$DELTASNAP_BTRFS_MOUNT_B/fl$$
zfs create $Z; mkdir -p $B; btrfs -q subvolume create $B/vol; btrfs -q subvolume create $B/plain; btrfs -q subvolume create $B/plain2; btrfs -q subvolume create $B/plain3
head -c 1024M /dev/urandom > /$Z/big; for i in $(seq 1 50); do head -c 10000 /dev/urandom > /$Z/small$i; done
$DS snapshot create zfs:$Z s0 >/dev/null
$DS refresh zfs:$Z btrfs:$B/vol >/dev/null
rsync -aHAX --inplace --no-whole-file /$Z/ $B/plain/
rsync -aHAX --inplace --no-whole-file /$Z/ $B/plain2/; rsync -aHAX --inplace --no-whole-file /$Z/ $B/plain3/
cold() { sync; echo 3 >/proc/sys/vm/drop_caches; }
DSF="--archive --hard-links --acls --xattrs --filter=-x_security.selinux --numeric-ids --sparse --delete --one-file-system --modify-window=-1 --stats --no-human-readable --inplace --no-whole-file"
for r in 1 2 3 4 5; do
python3 -c "
import os,random
f=open('/$Z/big','r+b'); n=1024*1024*1024//4096; rnd=random.Random($r)
for i in range(n//100): f.seek(rnd.randrange(n)*4096); f.write(os.urandom(4096))
f.close()"
$DS snapshot create zfs:$Z s$r >/dev/null
line="round $r"
for k in 0 1 2 3; do
 case $(( (r + k) % 4 )) in
 0) cold; t=$( { /usr/bin/time -f %e rsync -aHAX --inplace --no-whole-file /$Z/ $B/plain/ >/dev/null; } 2>&1 ); line="$line plain=$t";;
 1) cold; t=$( { /usr/bin/time -f %e rsync --archive --hard-links --acls --xattrs "--filter=-x security.selinux" --numeric-ids --sparse --delete --one-file-system --modify-window=-1 --stats --no-human-readable --inplace --no-whole-file /$Z/ $B/plain2/ >/dev/null; } 2>&1 ); line="$line dsflags=$t";;
 2) cold; t=$( { /usr/bin/time -f %e $DS refresh zfs:$Z btrfs:$B/vol >/dev/null; } 2>&1 ); line="$line deltasnap=$t";;
 3) cold; t=$( { /usr/bin/time -f %e rsync --archive --hard-links --acls --xattrs "--filter=-x security.selinux" --numeric-ids --delete --one-file-system --modify-window=-1 --stats --no-human-readable --inplace --no-whole-file /$Z/ $B/plain3/ >/dev/null; } 2>&1 ); line="$line nosparse=$t";;
 esac
done
echo "$line load=$(cut -d' ' -f1 /proc/loadavg)"
done
echo "Z=$Z B=$B"
