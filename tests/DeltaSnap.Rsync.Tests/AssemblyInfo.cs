global using DeltaSnap.Testing;

// The tests run rsync against real ZFS (zfs-fuse), Btrfs and ext4 trees, which exist only on Linux.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
