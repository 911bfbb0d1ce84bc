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

    /// <summary>
    /// After a failure or when done: waits for the reads still in flight (their errors are dropped: the first error
    /// is the one reported) and returns their buffers, which librbd may be writing into until then.
    /// </summary>
    public static async Task DrainAsync(Queue<(byte[] Buffer, Task Read)> inFlight)
    {
        while (inFlight.Count > 0)
        {
            var (buffer, read) = inFlight.Dequeue();
            try
            {
                await read.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Already failing; the first error is the one reported.
            }
            Pool.Return(buffer);
        }
    }
}
