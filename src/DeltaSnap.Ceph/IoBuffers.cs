using System.Buffers;

namespace DeltaSnap.Ceph;

/// <summary>
/// The buffers of rbd diff and RBD transfer I/O. Dozens of reads and writes are in flight at once, more than the
/// shared pool keeps per size and core, so it would allocate (and drop) one buffer per record; this pool keeps
/// enough for that many.
/// </summary>
internal static class IoBuffers
{
    public static ArrayPool<byte> Pool { get; } = ArrayPool<byte>.Create(maxArrayLength: 64 << 20, maxArraysPerBucket: 96);
}
