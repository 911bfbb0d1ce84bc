using System.IO.Pipelines;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Zfs.Tests;

/// <summary>Pipes one volume's native send into another's receive through a pipe, as the replicator does.</summary>
internal static class NativeTransfer
{
    /// <summary>Sends <paramref name="snapshot"/> (incremental from <paramref name="baseSnapshot"/>) and receives it; returns what the target reports.</summary>
    public static async Task<SnapshotInfo> RunAsync(
        Volume source, string? baseSnapshot, string snapshot, Volume target, SnapshotInfo? targetBase,
        Func<Stream, Stream>? wrapReceiveStream = null, NativeSendOptions? sendOptions = null, bool resumable = false,
        CancellationToken cancellationToken = default)
    {
        var info = (await source.GetLineageAsync(cancellationToken)).Find(snapshot) ?? throw new InvalidOperationException($"no snapshot {snapshot}");
        return await RunAsync(source, baseSnapshot, info, target, targetBase, wrapReceiveStream, sendOptions, resumable, cancellationToken);
    }

    public static async Task<SnapshotInfo> RunAsync(
        Volume source, string? baseSnapshot, SnapshotInfo snapshot, Volume target, SnapshotInfo? targetBase,
        Func<Stream, Stream>? wrapReceiveStream = null, NativeSendOptions? sendOptions = null, bool resumable = false,
        CancellationToken cancellationToken = default)
    {
        try
        {
            return await RunOnceAsync(source, baseSnapshot, snapshot, target, targetBase, wrapReceiveStream, sendOptions, resumable, cancellationToken);
        }
        catch (BackendCommandException e) when (wrapReceiveStream is null && e.Message.Contains("invalid backup stream", StringComparison.Ordinal))
        {
            if ((await target.GetLineageAsync(cancellationToken)).Find(snapshot.Name) is not null)
            {
                throw;
            }
            // zfs-fuse once (in one of five whole CI runs, never reproduced in hundreds of runs of this project) refused a
            // stream straight from zfs send, untouched, as invalid, and received nothing: its fault, not the stream's. A
            // test that only needs the transfer done sends it again, once, and says so; one that alters the stream on
            // purpose (wrapReceiveStream) never gets a second try.
            await TestContext.Progress.WriteLineAsync($"zfs-fuse refused an untouched stream ({e.Message}); sending it again once");
            return await RunOnceAsync(source, baseSnapshot, snapshot, target, targetBase, wrapReceiveStream, sendOptions, resumable, cancellationToken);
        }
    }

    private static async Task<SnapshotInfo> RunOnceAsync(
        Volume source, string? baseSnapshot, SnapshotInfo snapshot, Volume target, SnapshotInfo? targetBase,
        Func<Stream, Stream>? wrapReceiveStream, NativeSendOptions? sendOptions, bool resumable, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 4 << 20, resumeWriterThreshold: 2 << 20));
        var send = Task.Run(async () =>
        {
            try
            {
                await source.SendAsync(baseSnapshot, snapshot.Name, pipe.Writer.AsStream(leaveOpen: true), sendOptions, linked.Token);
                await pipe.Writer.CompleteAsync();
            }
            catch (Exception e)
            {
                await pipe.Writer.CompleteAsync(e);
                throw;
            }
        }, CancellationToken.None);
        var receive = Task.Run(async () =>
        {
            try
            {
                var stream = pipe.Reader.AsStream(leaveOpen: true);
                var request = new NativeReceiveRequest { Snapshot = snapshot, TargetBase = targetBase, Resumable = resumable };
                var received = await target.ReceiveAsync(wrapReceiveStream is null ? stream : wrapReceiveStream(stream), request, linked.Token);
                await pipe.Reader.CompleteAsync();
                return received;
            }
            catch (Exception e)
            {
                await pipe.Reader.CompleteAsync(e);
                await linked.CancelAsync();
                throw;
            }
        }, CancellationToken.None);
        try
        {
            await Task.WhenAll(send, receive);
        }
        catch
        {
            // The receive's failure is the one that matters; the send fails because the pipe closed.
            if (receive.IsFaulted)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(receive.Exception!.InnerException!);
            }
            if (receive.IsCanceled)
            {
                throw new OperationCanceledException();
            }
            throw;
        }
        return await receive;
    }

    /// <summary>Everything <paramref name="source"/>'s send writes, in memory (small test streams only).</summary>
    public static async Task<byte[]> CaptureAsync(Volume source, string? baseSnapshot, string snapshot, NativeSendOptions? options = null)
    {
        using var buffer = new MemoryStream();
        await source.SendAsync(baseSnapshot, snapshot, buffer, options);
        return buffer.ToArray();
    }
}

/// <summary>A read stream that passes <c>gateAfter</c> bytes, then signals <see cref="Reached"/> and waits until <see cref="Open"/> or cancellation.</summary>
internal sealed class GatedStream(Stream inner, long gateAfter) : Stream
{
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _position;

    public Task Reached => _reached.Task;

    /// <summary>Lets the rest of the stream through.</summary>
    public void Open() => _open.TrySetResult();

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_position >= gateAfter && !_open.Task.IsCompleted)
        {
            _reached.TrySetResult();
            await _open.Task.WaitAsync(cancellationToken);
        }
        var limit = _open.Task.IsCompleted ? buffer.Length : (int)Math.Min(buffer.Length, gateAfter - _position);
        var n = await inner.ReadAsync(buffer[..limit], cancellationToken);
        _position += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
