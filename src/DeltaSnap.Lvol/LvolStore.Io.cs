using System.Buffers;

namespace DeltaSnap.Lvol;

public sealed partial class LvolStore
{
    /// <summary>Opens lvol <paramref name="name"/> as a block device.</summary>
    /// <param name="name">The lvol (name, <c>STORE/NAME</c> or UUID).</param>
    /// <param name="writable">Open for writing; snapshots cannot be.</param>
    /// <exception cref="LvolException">ENOENT: no such lvol; EPERM: a snapshot was asked for writing.</exception>
    public LvolBlockDevice OpenDevice(string name, bool writable = false)
    {
        ThrowIfDisposed();
        lock (_sync)
        {
            var node = Find(name);
            if (writable && node.IsSnapshot)
            {
                throw new LvolException(LvolErrno.EPERM, $"Lvol '{node.Name}' is a snapshot; it cannot be opened for writing.");
            }
            node.OpenDevices++;
            return new LvolBlockDevice(this, node, writable);
        }
    }

    internal void CloseDevice(LvolNode node)
    {
        lock (_sync)
        {
            node.OpenDevices--;
        }
    }

    internal async ValueTask DeviceReadAsync(LvolNode node, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        await _gate.EnterReadAsync().ConfigureAwait(false);
        try
        {
            await ReadLvolAsync(node, offset, buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.ExitRead();
        }
    }

    internal async ValueTask DeviceWriteAsync(LvolNode node, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await _gate.EnterReadAsync().ConfigureAwait(false);
        try
        {
            if (node.IsSnapshot)
            {
                throw new LvolException(LvolErrno.EPERM, $"Lvol '{node.Name}' is a snapshot; it is read-only.");
            }
            await WriteLvolAsync(node, offset, data, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.ExitRead();
        }
    }

    internal async ValueTask DeviceUnmapAsync(LvolNode node, ByteRange range, CancellationToken cancellationToken)
    {
        await _gate.EnterReadAsync().ConfigureAwait(false);
        try
        {
            if (node.IsSnapshot)
            {
                throw new LvolException(LvolErrno.EPERM, $"Lvol '{node.Name}' is a snapshot; it is read-only.");
            }
            await UnmapLvolAsync(node, range, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.ExitRead();
        }
    }

    /// <summary>The ranges of <paramref name="range"/> that read from a physical cluster (anything else reads zeros).</summary>
    internal List<ByteRange> GetDataRanges(LvolNode node, ByteRange range)
    {
        var result = new List<ByteRange>();
        var segments = new List<ReadSegment>();
        lock (_sync)
        {
            var offset = range.Offset;
            var end = Math.Min(range.End, node.Size);
            while (offset < end)
            {
                var cluster = offset >> ClusterShift;
                var inCluster = (int)(offset & (ClusterSize - 1));
                var n = (int)Math.Min(end - offset, ClusterSize - inCluster);
                segments.Clear();
                _reads.ResolveCluster(node, cluster, inCluster, inCluster + n, segments);
                var pos = offset;
                foreach (var s in segments)
                {
                    if (s.FileOffset >= 0)
                    {
                        if (result.Count > 0 && result[^1].End == pos)
                        {
                            result[^1] = ByteRange.FromBounds(result[^1].Offset, pos + s.Length);
                        }
                        else
                        {
                            result.Add(new ByteRange(pos, s.Length));
                        }
                    }
                    pos += s.Length;
                }
                offset += n;
            }
        }
        return result;
    }

    /// <summary>Reads <paramref name="buffer"/> from lvol <paramref name="node"/> at <paramref name="offset"/>, through its parents.</summary>
    internal async ValueTask ReadLvolAsync(LvolNode node, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var segments = new List<ReadSegment>();
        lock (_sync)
        {
            _reads.ResolveRange(node, offset, buffer.Length, segments);
        }
        await ReadSegmentsAsync(segments, buffer, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask ReadSegmentsAsync(List<ReadSegment> segments, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var pos = 0;
        foreach (var s in segments)
        {
            var target = buffer.Slice(pos, s.Length);
            if (s.FileOffset < 0)
            {
                target.Span.Clear();
            }
            else
            {
                await ReadFileAsync(target, s.FileOffset, cancellationToken).ConfigureAwait(false);
            }
            pos += s.Length;
        }
    }

    /// <remarks>
    /// The store's file I/O is synchronous <c>pread</c>/<c>pwrite</c> on the calling thread: for a local file (mostly
    /// in the page cache) that is several times cheaper than handing each call to the thread pool, which is what
    /// .NET's asynchronous file I/O does on Linux.
    /// </remarks>
    private ValueTask ReadFileAsync(Memory<byte> target, long fileOffset, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        while (!target.IsEmpty)
        {
            int n;
            try
            {
                n = RandomAccess.Read(_file, target.Span, fileOffset);
            }
            catch (IOException e)
            {
                throw IoFailure($"Cannot read lvol store {Path}", e);
            }
            if (n == 0)
            {
                // Only blocks that were written are read from the file, so the file ending before them is damage:
                // reading zeros there would be wrong data.
                throw new CorruptDataException(
                    $"Lvol store {Path} is damaged: it is shorter than its metadata says (data expected at byte {fileOffset}, the file ends before it).");
            }
            target = target[n..];
            fileOffset += n;
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>Bytes of data written past the page cache (<see cref="DirectDataWriter"/>); 0 where the file system refuses that.</summary>
    internal long DirectBytesWritten => _direct?.BytesWritten ?? 0;

    /// <summary>Whether large data writes go past the page cache here (the file system took <c>O_DIRECT</c>).</summary>
    internal bool WritesDirectly => _direct is { Active: true };

    private ValueTask WriteFileAsync(ReadOnlyMemory<byte> data, long fileOffset, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            var direct = _direct?.Write(data.Span, fileOffset) ?? 0;
            if (direct < data.Length)
            {
                RandomAccess.Write(_file, data.Span[direct..], fileOffset + direct);
            }
        }
        catch (IOException e)
        {
            throw IoFailure($"Cannot write lvol store {Path}", e);
        }
        return ValueTask.CompletedTask;
    }

    internal async ValueTask WriteLvolAsync(LvolNode node, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            var cluster = offset >> ClusterShift;
            var inCluster = (int)(offset & (ClusterSize - 1));
            var n = Math.Min(data.Length, ClusterSize - inCluster);
            await WritePieceAsync(node, cluster, inCluster, data[..n], cancellationToken).ConfigureAwait(false);
            data = data[n..];
            offset += n;
        }
    }

    private async ValueTask WritePieceAsync(LvolNode node, long cluster, int start, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        long inPlace = -1;
        lock (_sync)
        {
            var current = node.Map.Get(cluster);
            if (current.IsFull)
            {
                inPlace = FileOffsetOf(current.Physical) + start;
            }
        }
        if (inPlace >= 0)
        {
            await WriteFileAsync(data, inPlace, cancellationToken).ConfigureAwait(false);
            return;
        }

        await node.WriteGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ClusterEntry e;
            lock (_sync)
            {
                e = node.Map.Get(cluster);
                if (_copyOnWrite.PlanFirstWrite(e) is { } step)
                {
                    e = Allocate(step);
                    node.Map.Set(cluster, e);
                    MarkDirty();
                }
            }
            var clusterBase = FileOffsetOf(e.Physical);
            if (e.IsFull)
            {
                await WriteFileAsync(data, clusterBase + start, cancellationToken).ConfigureAwait(false);
                return;
            }
            var span = CopyOnWritePlanner.PlanWrite(start, data.Length);
            if (!span.FillFirst && !span.FillLast && span.AlignedStart == start && span.Length == data.Length)
            {
                // Whole blocks: written as they are (a receive's records), without a copy into a block-aligned buffer.
                await WriteFileAsync(data, clusterBase + start, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await WriteBlocksAsync(node, e, cluster, span, start, data, clusterBase, cancellationToken).ConfigureAwait(false);
            }
            lock (_sync)
            {
                var current = node.Map.Get(cluster);
                if (current.Valid is not null && current.Physical == e.Physical)
                {
                    node.Map.Set(cluster, _copyOnWrite.AfterWrite(current, span.FirstBlock, span.BlockCount));
                    MarkDirty();
                }
            }
        }
        finally
        {
            node.WriteGate.Release();
        }
    }

    /// <summary>Writes a piece that covers blocks only in part: their other bytes are what they read now.</summary>
    private async ValueTask WriteBlocksAsync(LvolNode node, ClusterEntry e, long cluster, WriteSpan span, int start, ReadOnlyMemory<byte> data, long clusterBase,
        CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(span.Length);
        try
        {
            var memory = buffer.AsMemory(0, span.Length);
            if (span.FillFirst)
            {
                await FillBlockAsync(node, e, cluster, span.FirstBlock, memory[..BlockSize], cancellationToken).ConfigureAwait(false);
            }
            if (span.FillLast)
            {
                await FillBlockAsync(node, e, cluster, span.LastBlock, memory[(span.Length - BlockSize)..], cancellationToken).ConfigureAwait(false);
            }
            data.CopyTo(memory[(start - span.AlignedStart)..]);
            await WriteFileAsync(memory, clusterBase + span.AlignedStart, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Fills <paramref name="destination"/> with what block <paramref name="block"/> of the cluster reads now.</summary>
    private async ValueTask FillBlockAsync(LvolNode node, ClusterEntry e, long cluster, int block, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var source = _copyOnWrite.SourceOf(e, block);
        if (source == BlockSource.Own)
        {
            await ReadFileAsync(destination, FileOffsetOf(e.Physical) + (block << BlockShift), cancellationToken).ConfigureAwait(false);
        }
        else if (source == BlockSource.Zeros)
        {
            destination.Span.Clear();
        }
        else
        {
            var segments = new List<ReadSegment>();
            lock (_sync)
            {
                _reads.ResolveCluster(node.Parent, cluster, block << BlockShift, (block + 1) << BlockShift, segments);
            }
            await ReadSegmentsAsync(segments, destination, cancellationToken).ConfigureAwait(false);
        }
    }

    internal async ValueTask UnmapLvolAsync(LvolNode node, ByteRange range, CancellationToken cancellationToken)
    {
        var offset = range.Offset;
        var end = range.End;
        byte[]? zeros = null;
        while (offset < end)
        {
            var cluster = offset >> ClusterShift;
            var clusterOffset = cluster << ClusterShift;
            var inCluster = (int)(offset - clusterOffset);
            var n = (int)Math.Min(end - offset, ClusterSize - inCluster);
            var clusterLength = (int)Math.Min(ClusterSize, node.Size - clusterOffset);
            bool zeroWrite;
            lock (_sync)
            {
                var e = node.Map.Get(cluster);
                var step = CopyOnWritePlanner.PlanUnmap(e, wholeCluster: inCluster == 0 && n >= clusterLength, _reads.AnyDataBelow(node.Parent, cluster));
                if (step.FreePhysical)
                {
                    _clusters.Free(e.Physical);
                }
                if (step.Replacement is { } replacement)
                {
                    node.Map.Set(cluster, replacement);
                    MarkDirty();
                }
                zeroWrite = step.WriteZeros;
            }
            if (zeroWrite)
            {
                zeros ??= new byte[ClusterSize];
                await WritePieceAsync(node, cluster, inCluster, zeros.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            }
            offset += n;
        }
    }
}
