using System.Buffers;
using System.Text;
using DeltaSnap.Checksums;
using DeltaSnap.Devices;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Lvol;

/// <summary>
/// A block volume of an lvol store: the writable lvol <see cref="Volume.Name"/>, whose lineage is the chain of
/// snapshot lvols <c>NAME@SNAPSHOT</c> it descends from, oldest first. Identities are the snapshot lvols' UUIDs
/// (<c>lvol-uuid</c>); the source a snapshot was received from is kept in its extended attributes.
/// </summary>
public sealed class LvolVolume : Volume
{
    /// <summary>The extended attribute holding the identity of the source snapshot this one replicates.</summary>
    public const string ReceivedFromXattr = "deltasnap.received_from";

    /// <summary>The identity kind of lvol snapshots.</summary>
    public const string IdentityKind = "lvol-uuid";

    /// <summary>What a receive's scratch clone is named after the volume name (it holds '@', so it is never listed as a volume).</summary>
    internal const string ReceivingInfix = "@.receiving-";

    private readonly LvolDriver _driver;

    internal LvolVolume(LvolDriver driver, string name)
        : base(driver, name, VolumeKind.Block)
    {
        _driver = driver;
    }

    /// <summary>The store the volume lives in.</summary>
    public LvolStore Store => _driver.Store;

    /// <inheritdoc />
    public override string Address => $"lvol:{Store.Path}#{Name}";

    /// <summary>The store lvol name of snapshot <paramref name="snapshot"/> of this volume.</summary>
    public string SnapshotLvolName(string snapshot) => Name + "@" + snapshot;

    /// <inheritdoc />
    protected override Task<long> GetSizeCoreAsync(CancellationToken cancellationToken) => Task.FromResult(Store.GetLvol(Name).Size);

    /// <inheritdoc />
    protected override Task ResizeCoreAsync(long size, CancellationToken cancellationToken) => Store.ResizeLvolAsync(Name, size, cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// The lineage is the chain of <c>NAME@…</c> snapshots the live lvol descends from, followed by a received snapshot
    /// that a killed receive committed but had not linked yet (a snapshot lvol <c>NAME@…</c> carrying
    /// <see cref="ReceivedFromXattr"/> whose parent is the newest snapshot of the chain): it is complete (a receive
    /// snapshots its scratch clone only after the whole stream was written, checked and flushed), so it is listed as
    /// the newest snapshot, and a refresh either adopts it (rolls the volume onto it) or deletes it like any other
    /// target snapshot. Without this, the next receive of the same snapshot failed with "already exists" for good.
    /// </remarks>
    protected override Task<SnapshotLineage> GetLineageCoreAsync(CancellationToken cancellationToken) => Task.FromResult(ReadLineage());

    /// <inheritdoc />
    protected override async Task<SnapshotInfo> CreateSnapshotCoreAsync(string name, SnapshotCreateOptions options, CancellationToken cancellationToken)
    {
        var xattrs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (options.ReceivedFrom is { IsEmpty: false } from)
        {
            xattrs[ReceivedFromXattr] = Encoding.UTF8.GetBytes(from.ToString());
        }
        var info = await Store.SnapshotAsync(Name, SnapshotLvolName(name), new LvolSnapshotOptions { CreatedUtc = options.CreatedUtc, Xattrs = xattrs },
            cancellationToken).ConfigureAwait(false);
        return ToSnapshotInfo(name, info);
    }

    /// <inheritdoc />
    /// <remarks>Scratch clones that a killed receive left are removed first (one may hold the snapshot as its parent).</remarks>
    protected override async Task DeleteSnapshotCoreAsync(string name, CancellationToken cancellationToken)
    {
        RequireSnapshot(name);
        await RemoveScratchClonesAsync(cancellationToken).ConfigureAwait(false);
        await Store.DeleteLvolAsync(SnapshotLvolName(name), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Rolling back to a received snapshot that a killed receive committed but did not link into the volume's chain
    /// (see <see cref="GetLineageCoreAsync"/>) links it: the receive is finished, the snapshot adopted.
    /// </remarks>
    protected override async Task RollbackCoreAsync(string name, CancellationToken cancellationToken)
    {
        var lineage = ReadLineage();
        var index = lineage.IndexOf(lineage.Find(name) ?? throw new VolumeNotFoundException($"{Address} has no snapshot named '{name}'."));
        if (index != lineage.Count - 1)
        {
            throw new LvolException(LvolErrno.EBUSY,
                $"Cannot roll {Address} back to '{name}': newer snapshots exist ({string.Join(", ", lineage.Skip(index + 1).Select(s => s.Name))}); delete them first.");
        }
        await RemoveScratchClonesAsync(cancellationToken).ConfigureAwait(false);
        await Store.RollbackAsync(Name, SnapshotLvolName(name), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override Task RenameSnapshotCoreAsync(string name, string newName, CancellationToken cancellationToken)
    {
        RequireSnapshot(name);
        return Store.RenameLvolAsync(SnapshotLvolName(name), SnapshotLvolName(newName), cancellationToken);
    }

    /// <inheritdoc />
    protected override Task<BlockDevice> OpenDeviceCoreAsync(string? snapshot, bool writable, CancellationToken cancellationToken)
    {
        if (snapshot is not null)
        {
            RequireSnapshot(snapshot);
        }
        return Task.FromResult<BlockDevice>(Store.OpenDevice(snapshot is null ? Name : SnapshotLvolName(snapshot), writable));
    }

    /// <inheritdoc />
    protected override Task<RangeSet> GetChangedRangesCoreAsync(string? baseSnapshot, string snapshot, CancellationToken cancellationToken)
    {
        if (baseSnapshot is not null)
        {
            RequireSnapshot(baseSnapshot);
        }
        RequireSnapshot(snapshot);
        return Task.FromResult(Store.GetChangedRanges(baseSnapshot is null ? null : SnapshotLvolName(baseSnapshot), SnapshotLvolName(snapshot)));
    }

    /// <summary>The store's own map: nothing allocated in the live layers since the snapshot, and the same size.</summary>
    protected override Task<bool> IsLiveStateUnchangedCoreAsync(string snapshot, CancellationToken cancellationToken)
    {
        RequireSnapshot(snapshot);
        var snapshotName = SnapshotLvolName(snapshot);
        return Task.FromResult(Store.GetLvol(Name).Size == Store.GetLvol(snapshotName).Size && Store.GetChangedRanges(snapshotName, Name).IsEmpty);
    }

    /// <inheritdoc />
    protected override async Task<ClusterChecksums?> GetStoredChecksumsCoreAsync(string snapshot, ClusterChecksumOptions options, CancellationToken cancellationToken)
    {
        RequireSnapshot(snapshot);
        var stored = Store.GetXattr(SnapshotLvolName(snapshot), ChecksumXattr(options.Algorithm, options.ClusterSize));
        if (stored is null)
        {
            return null;
        }
        try
        {
            var map = await ClusterChecksums.LoadAsync(new MemoryStream(stored, writable: false), cancellationToken).ConfigureAwait(false);
            var size = Store.GetLvol(SnapshotLvolName(snapshot)).Size;
            return map.Algorithm == options.Algorithm && map.Layout.ClusterSize == options.ClusterSize && map.Layout.VolumeSize == size ? map : null;
        }
        catch (CorruptDataException)
        {
            return null;
        }
    }

    /// <inheritdoc />
    protected override async Task StoreChecksumsCoreAsync(string snapshot, ClusterChecksums map, CancellationToken cancellationToken)
    {
        RequireSnapshot(snapshot);
        using var buffer = new MemoryStream();
        await map.SaveAsync(buffer, cancellationToken).ConfigureAwait(false);
        await Store.SetXattrAsync(SnapshotLvolName(snapshot), ChecksumXattr(map.Algorithm, map.Layout.ClusterSize), buffer.ToArray(), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override async Task SendCoreAsync(string? baseSnapshot, string snapshot, Stream destination, NativeSendOptions options, CancellationToken cancellationToken)
    {
        var lineage = ReadLineage();
        var snap = lineage.Find(snapshot) ?? throw new VolumeNotFoundException($"{Address} has no snapshot named '{snapshot}'.");
        var baseInfo = baseSnapshot is null ? null : lineage.Find(baseSnapshot) ?? throw new VolumeNotFoundException($"{Address} has no snapshot named '{baseSnapshot}'.");
        var header = new LvolDiffHeader
        {
            VolumeSize = snap.Size ?? 0,
            ClusterSize = Store.ClusterSize,
            SnapshotName = snap.Name,
            Snapshot = snap.Identity,
            CreatedUtc = snap.CreatedUtc,
            SnapshotReceivedFrom = snap.ReceivedFrom,
            BaseName = baseInfo?.Name,
            Base = baseInfo?.Identity,
            BaseReceivedFrom = baseInfo?.ReceivedFrom,
        };
        var changed = Store.GetChangedRanges(baseSnapshot is null ? null : SnapshotLvolName(baseSnapshot), SnapshotLvolName(snapshot));
        var encodedHeader = LvolDiffStream.EncodeHeader(header);
        var seed = LvolDiffStream.SeedOf(encodedHeader);
        await destination.WriteAsync(encodedHeader, cancellationToken).ConfigureAwait(false);

        var device = Store.OpenDevice(SnapshotLvolName(snapshot));
        await using var deviceScope = device.ConfigureAwait(false);
        // Content, not writes: a block written since the base whose content equals the base's is not sent (a whole
        // image re-imported with a few blocks different sends those blocks). The base is in this store, and the
        // receiver writes into a clone of its own copy of it, so an unsent block reads as the base's there.
        var baseDevice = baseSnapshot is null ? null : Store.OpenDevice(SnapshotLvolName(baseSnapshot));
        await using var baseScope = (baseDevice ?? (IAsyncDisposable)NoDevice.Instance).ConfigureAwait(false);
        var baseSize = baseInfo?.Size ?? 0;
        var batch = new ArrayBufferWriter<byte>(LvolDiffStream.MaxDataRecord + 4096);
        var data = ArrayPool<byte>.Shared.Rent(LvolDiffStream.MaxDataRecord);
        var previous = baseDevice is null ? null : ArrayPool<byte>.Shared.Rent(LvolDiffStream.MaxDataRecord);
        // A destination that lends its memory (the native route's pipe): a chunk is read straight into it, behind room
        // for the records gathered so far and its own record header, and when it is data from end to end it goes out
        // from there, so the send copies none of its bytes; any other chunk is copied out and cut into records below.
        var lender = destination as IBufferWriter<byte>;
        long records = 0, dataBytes = 0;
        try
        {
            foreach (var range in changed)
            {
                for (var offset = range.Offset; offset < range.End;)
                {
                    var length = (int)Math.Min(LvolDiffStream.MaxDataRecord, range.End - offset);
                    var lentLength = batch.WrittenCount + LvolDiffStream.RecordHeaderSize + length;
                    var lent = lender?.GetMemory(lentLength) ?? default;
                    var chunk = lent.Length >= lentLength ? lent.Slice(lentLength - length, length) : data.AsMemory(0, length);
                    await device.ReadAsync(offset, chunk, cancellationToken).ConfigureAwait(false);
                    var comparable = 0;
                    if (baseDevice is not null && offset < baseSize)
                    {
                        comparable = (int)Math.Min(length, baseSize - offset);
                        await baseDevice.ReadAsync(offset, previous.AsMemory(0, comparable), cancellationToken).ConfigureAwait(false);
                    }
                    if (lent.Length >= lentLength)
                    {
                        if (IsDataThroughout(chunk.Span, previous, comparable))
                        {
                            var lentSpan = lent.Span;
                            batch.WrittenSpan.CopyTo(lentSpan);
                            LvolDiffStream.WriteRecordHeader(lentSpan.Slice(batch.WrittenCount, LvolDiffStream.RecordHeaderSize), seed, LvolDiffRecordKind.Data, offset, length, chunk.Span);
                            lender!.Advance(lentLength);
                            batch.ResetWrittenCount();
                            await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
                            dataBytes += length;
                            records++;
                            offset += length;
                            continue;
                        }
                        chunk.Span.CopyTo(data);
                    }
                    // Runs of whole blocks of one kind: unchanged (not sent), zeros (zero records, which the receiver
                    // unmaps) or data.
                    var pos = 0;
                    var kind = BlockKindAt(data, previous, pos, length, comparable);
                    while (pos < length)
                    {
                        var run = pos + Math.Min(LvolStore.BlockSize, length - pos);
                        var next = SendBlockKind.Unchanged;
                        while (run < length && (next = BlockKindAt(data, previous, run, length, comparable)) == kind)
                        {
                            run += Math.Min(LvolStore.BlockSize, length - run);
                        }
                        if (kind == SendBlockKind.Zero)
                        {
                            LvolDiffStream.PutRecord(batch, seed, LvolDiffRecordKind.Zero, offset + pos, run - pos, default);
                            records++;
                        }
                        else if (kind == SendBlockKind.Data && run - pos >= DirectPayload)
                        {
                            // A long run goes out of the read buffer itself, right after its header (not copied into the batch first).
                            LvolDiffStream.PutRecordHeader(batch, seed, LvolDiffRecordKind.Data, offset + pos, run - pos, data.AsSpan(pos, run - pos));
                            await destination.WriteAsync(batch.WrittenMemory, cancellationToken).ConfigureAwait(false);
                            batch.ResetWrittenCount();
                            await destination.WriteAsync(data.AsMemory(pos, run - pos), cancellationToken).ConfigureAwait(false);
                            dataBytes += run - pos;
                            records++;
                        }
                        else if (kind == SendBlockKind.Data)
                        {
                            LvolDiffStream.PutRecord(batch, seed, LvolDiffRecordKind.Data, offset + pos, run - pos, data.AsSpan(pos, run - pos));
                            dataBytes += run - pos;
                            records++;
                        }
                        pos = run;
                        kind = next;
                        if (batch.WrittenCount >= LvolDiffStream.MaxDataRecord)
                        {
                            await destination.WriteAsync(batch.WrittenMemory, cancellationToken).ConfigureAwait(false);
                            batch.ResetWrittenCount();
                        }
                    }
                    offset += length;
                }
            }
            LvolDiffStream.PutRecord(batch, seed, LvolDiffRecordKind.End, records, dataBytes, default);
            await destination.WriteAsync(batch.WrittenMemory, cancellationToken).ConfigureAwait(false);
            await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(data);
            if (previous is not null)
            {
                ArrayPool<byte>.Shared.Return(previous);
            }
        }
    }

    /// <summary>Data runs at least this long are written to the send's destination from the read buffer; shorter ones are gathered with the record headers.</summary>
    private const int DirectPayload = 64 << 10;

    /// <summary>Whether every block of a chunk read for sending is other data than the base's bytes and zeros (one data record).</summary>
    private static bool IsDataThroughout(ReadOnlySpan<byte> chunk, byte[]? previous, int comparable)
    {
        for (var pos = 0; pos < chunk.Length; pos += LvolStore.BlockSize)
        {
            if (BlockKindAt(chunk, previous, pos, chunk.Length, comparable) != SendBlockKind.Data)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>What the block at <paramref name="pos"/> of a chunk read for sending is: the base's bytes, zeros, or other data.</summary>
    private static SendBlockKind BlockKindAt(ReadOnlySpan<byte> data, byte[]? previous, int pos, int length, int comparable)
    {
        var unit = Math.Min(LvolStore.BlockSize, length - pos);
        var block = data.Slice(pos, unit);
        if (previous is not null && pos + unit <= comparable && block.SequenceEqual(previous.AsSpan(pos, unit)))
        {
            return SendBlockKind.Unchanged;
        }
        return block.ContainsAnyExcept((byte)0) ? SendBlockKind.Data : SendBlockKind.Zero;
    }

    private enum SendBlockKind
    {
        Unchanged,
        Zero,
        Data,
    }

    /// <summary>Stands in for the base device of a full send.</summary>
    private sealed class NoDevice : IAsyncDisposable
    {
        public static readonly NoDevice Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>Reads the lvol diff stream's header: the snapshot it carries and the base it is incremental from (with the identity that base was received from).</summary>
    /// <exception cref="CorruptDataException">The header is damaged or of an unknown version.</exception>
    protected override async Task<NativeStreamHeader?> ReadNativeStreamHeaderCoreAsync(Stream source, CancellationToken cancellationToken) =>
        new LvolReceiveHeader(await LvolDiffStream.ReadHeaderAsync(source, cancellationToken).ConfigureAwait(false));

    /// <inheritdoc />
    /// <remarks>
    /// The stream is written into a scratch clone of the target base (or a new lvol, for a full stream); only when it
    /// has arrived whole is the clone snapshotted under the requested name and the volume moved onto that snapshot.
    /// A failure deletes the scratch clone and leaves the volume as it was.
    /// </remarks>
    protected override async Task<SnapshotInfo> ReceiveCoreAsync(Stream source, NativeReceiveRequest request, NativeStreamHeader? header, NativeReceiveTarget target, CancellationToken cancellationToken)
    {
        var diff = ((LvolReceiveHeader)header!).Diff;
        await RemoveScratchClonesAsync(cancellationToken).ConfigureAwait(false);

        var scratch = Name + ReceivingInfix + Guid.NewGuid().ToString("N")[..12];
        if (request.TargetBase is { } targetBase)
        {
            await Store.CloneAsync(SnapshotLvolName(targetBase.Name), scratch, cancellationToken).ConfigureAwait(false);
            if (Store.GetLvol(scratch).Size != diff.VolumeSize)
            {
                await Store.ResizeLvolAsync(scratch, diff.VolumeSize, cancellationToken).ConfigureAwait(false);
            }
        }
        else
        {
            await Store.CreateLvolAsync(scratch, diff.VolumeSize, thin: true, cancellationToken).ConfigureAwait(false);
        }
        try
        {
            await WriteRecordsAsync(source, scratch, diff.VolumeSize, diff.RecordSeed, cancellationToken).ConfigureAwait(false);
            var xattrs = new Dictionary<string, byte[]>(StringComparer.Ordinal)
            {
                [ReceivedFromXattr] = Encoding.UTF8.GetBytes(request.Snapshot.Identity.ToString()),
            };
            await Store.SnapshotAsync(scratch, SnapshotLvolName(request.Snapshot.Name),
                new LvolSnapshotOptions { CreatedUtc = request.Snapshot.CreatedUtc, Xattrs = xattrs }, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await Store.DeleteLvolAsync(scratch, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        await Store.DeleteLvolAsync(scratch, cancellationToken).ConfigureAwait(false);
        // As after `zfs receive`: the volume now reads as the received snapshot.
        await Store.RollbackAsync(Name, SnapshotLvolName(request.Snapshot.Name), cancellationToken).ConfigureAwait(false);
        return ReadLineage().Find(request.Snapshot.Name)!;
    }

    private async Task WriteRecordsAsync(Stream source, string scratch, long volumeSize, uint seed, CancellationToken cancellationToken)
    {
        // Two payload buffers: while one record's data is written (past the page cache, which waits for the disk), the
        // next record is read and checked into the other, so the stream keeps flowing during the write. Both are on a
        // block boundary, so that the store writes a record's payload from here without copying it into an aligned
        // buffer first (DirectDataWriter).
        Memory<byte>[] payloads = [new DirectDataWriter.AlignedBuffer(LvolDiffStream.MaxDataRecord).Memory, new DirectDataWriter.AlignedBuffer(LvolDiffStream.MaxDataRecord).Memory];
        var device = Store.OpenDevice(scratch, writable: true);
        await using var deviceScope = device.ConfigureAwait(false);
        Task? writing = null;
        try
        {
            long records = 0, dataBytes = 0;
            for (var next = 0; ; next ^= 1)
            {
                var payload = payloads[next];
                var (kind, offset, length) = await LvolDiffStream.ReadRecordAsync(source, seed, payload, cancellationToken).ConfigureAwait(false);
                if (kind == LvolDiffRecordKind.End)
                {
                    if (offset != records || length != dataBytes)
                    {
                        throw new CorruptDataException($"The lvol diff stream ends after {records} records and {dataBytes} data bytes, but its end record says {offset} and {length}.");
                    }
                    await LvolDiffStream.CheckEndOfStreamAsync(source, cancellationToken).ConfigureAwait(false);
                    break;
                }
                if (offset > volumeSize - length)
                {
                    throw new CorruptDataException($"The lvol diff stream holds a record at [{offset}, +{length}) outside the volume of {volumeSize} bytes.");
                }
                // One write at a time, in stream order: the previous one ends before this record touches the device.
                if (writing is not null)
                {
                    await writing.ConfigureAwait(false);
                    writing = null;
                }
                if (kind == LvolDiffRecordKind.Data)
                {
                    var data = payload[..(int)length];
                    var at = offset;
                    writing = Task.Run(() => device.WriteAsync(at, data, cancellationToken).AsTask(), cancellationToken);
                    dataBytes += length;
                }
                else
                {
                    await device.UnmapAsync(new ByteRange(offset, length), cancellationToken).ConfigureAwait(false);
                }
                records++;
            }
            if (writing is not null)
            {
                await writing.ConfigureAwait(false);
                writing = null;
            }
            await device.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // A failed stream: the write in flight ends before the caller deletes the scratch clone under it (its own
            // failure, if any, is not the one to report).
            if (writing is not null)
            {
                try
                {
                    await writing.ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    Log.ReceiveWriteAbandoned(Logger, Address, e);
                }
            }
        }
    }

    private async Task RemoveScratchClonesAsync(CancellationToken cancellationToken)
    {
        foreach (var leftover in Store.ListLvols().Where(l => !l.IsSnapshot && l.Name.StartsWith(Name + ReceivingInfix, StringComparison.Ordinal)))
        {
            await Store.DeleteLvolAsync(leftover.Name, cancellationToken).ConfigureAwait(false);
        }
    }

    private SnapshotLineage ReadLineage()
    {
        var live = Store.TryGetLvol(Name) ?? throw new VolumeNotFoundException($"The volume {Address} no longer exists.");
        var chain = new List<SnapshotInfo>();
        var prefix = Name + "@";
        for (var parent = live.ParentName; parent is not null;)
        {
            var info = Store.GetLvol(parent);
            if (info.Name.StartsWith(prefix, StringComparison.Ordinal) && info.Name.Length > prefix.Length)
            {
                chain.Add(ToSnapshotInfo(info.Name[prefix.Length..], info));
            }
            parent = info.ParentName;
        }
        chain.Reverse();
        // A received snapshot committed by a receive that was killed before it rolled the volume onto it.
        var tip = live.ParentName;
        var lvols = Store.ListLvols();
        while (true)
        {
            var unlinked = lvols.Where(l => l.IsSnapshot && l.ParentName == tip && l.Name != live.ParentName
                && l.Name.StartsWith(prefix, StringComparison.Ordinal) && l.Name.Length > prefix.Length
                && l.Xattrs.ContainsKey(ReceivedFromXattr)
                && !chain.Exists(c => c.Identity.Value == l.Uuid.ToString())).ToList();
            if (unlinked.Count != 1)
            {
                break;
            }
            var orphan = unlinked[0];
            chain.Add(ToSnapshotInfo(orphan.Name[prefix.Length..], orphan));
            tip = orphan.Name;
        }
        return new SnapshotLineage(chain);
    }

    private static SnapshotInfo ToSnapshotInfo(string name, LvolInfo info)
    {
        SnapshotIdentity? receivedFrom = null;
        if (info.Xattrs.TryGetValue(ReceivedFromXattr, out var from))
        {
            try
            {
                receivedFrom = SnapshotIdentity.Parse(Encoding.UTF8.GetString(from));
            }
            catch (FormatException)
            {
                receivedFrom = null; // not written by DeltaSnap
            }
        }
        return new SnapshotInfo(name, new SnapshotIdentity(IdentityKind, info.Uuid.ToString()), info.CreatedUtc)
        {
            ReceivedFrom = receivedFrom,
            Size = info.Size,
        };
    }

    private void RequireSnapshot(string name)
    {
        if (Store.TryGetLvol(SnapshotLvolName(name)) is not { IsSnapshot: true })
        {
            throw new VolumeNotFoundException($"{Address} has no snapshot named '{name}'.");
        }
    }

    private static string ChecksumXattr(ChecksumAlgorithm algorithm, int clusterSize) =>
        $"{LvolStore.ChecksumXattrPrefix}{algorithm.ToString().ToLowerInvariant()}.{clusterSize}";

    /// <summary>The lvol diff header as the template's header.</summary>
    private sealed record LvolReceiveHeader : NativeStreamHeader
    {
        public LvolReceiveHeader(LvolDiffHeader diff)
            : base(diff.Snapshot)
        {
            Diff = diff;
            From = diff.Base;
            FromReceivedFrom = diff.BaseReceivedFrom;
            FromName = diff.BaseName;
        }

        public LvolDiffHeader Diff { get; }
    }
}
