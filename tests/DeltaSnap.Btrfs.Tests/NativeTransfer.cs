using System.IO.Pipelines;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Btrfs.Tests;

/// <summary>
/// One native transfer, as the replicator pipes it (send into a pipe, receive from it), for tests that drive
/// single snapshots with exact bases, including wrong ones.
/// </summary>
public static class NativeTransfer
{
    /// <summary>Sends one snapshot through an in-memory pipe into a receive, as the replicator pipes it through its framing.</summary>
    public static async Task<(SnapshotInfo Received, long Bytes)> TransferAsync(
        Volume source, Volume target, SnapshotInfo? sourceBase, SnapshotInfo? targetBase, SnapshotInfo snapshot, CancellationToken cancellationToken = default)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 4 * 1024 * 1024, resumeWriterThreshold: 2 * 1024 * 1024));
        var counter = new CountingStream(pipe.Writer.AsStream());
        var send = Task.Run(async () =>
        {
            try
            {
                await source.SendAsync(sourceBase?.Name, snapshot.Name, counter, cancellationToken: cancellationToken);
                await pipe.Writer.CompleteAsync();
            }
            catch (Exception e)
            {
                await pipe.Writer.CompleteAsync(e);
                throw;
            }
        }, cancellationToken);
        SnapshotInfo received;
        try
        {
            received = await target.ReceiveAsync(pipe.Reader.AsStream(), new NativeReceiveRequest { Snapshot = snapshot, TargetBase = targetBase }, cancellationToken);
        }
        catch
        {
            await pipe.Reader.CompleteAsync();
            try
            {
                await send;
            }
            catch (Exception)
            {
                // The receive's failure is the one to report.
            }
            throw;
        }
        await pipe.Reader.CompleteAsync();
        await send;
        return (received, counter.Written);
    }
}

/// <summary>A write-only pass-through that counts the bytes written.</summary>
public sealed class CountingStream(Stream inner) : Stream
{
    public long Written { get; private set; }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => Written; set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count)
    {
        inner.Write(buffer, offset, count);
        Written += count;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await inner.WriteAsync(buffer, cancellationToken);
        Written += buffer.Length;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
