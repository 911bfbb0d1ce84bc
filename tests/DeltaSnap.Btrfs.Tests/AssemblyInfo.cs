global using DeltaSnap.Testing;

// The tests run against real Btrfs file systems, which exist only on Linux.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
