using DeltaSnap.Ceph.Diagnostics;
using DeltaSnap.Ceph.Interop;
using DeltaSnap.Devices;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Ceph;

/// <summary>An extent that differs between two states of an RBD image: data, or a range that now reads as zeros.</summary>
/// <param name="Range">The bytes.</param>
/// <param name="HasData">True when the range holds data at the later state; false when it was discarded (reads as zeros).</param>
public readonly record struct RbdChangedExtent(ByteRange Range, bool HasData);

/// <summary>
/// An RBD image as a DeltaSnap block volume.
/// </summary>
/// <remarks>
/// <para><b>Identity.</b> A snapshot's <see cref="SnapshotInfo.Identity"/> is <c>rbd:IMAGEID.SNAPID@SECONDS</c>: the
/// image id (unique in the cluster, never reused), the snapshot id (never reused within the image) and the
/// creation time. It does not change when the image or the snapshot is renamed, and two independent images never
/// share one, even with equal names made in the same second.</para>
/// <para><b>Received snapshots.</b> RBD snapshot ids are per image and RBD cannot set a snapshot's timestamp, so a
/// copy can never carry the source's identity itself. When a snapshot is created with
/// <see cref="SnapshotCreateOptions.ReceivedFrom"/> or <see cref="SnapshotCreateOptions.CreatedUtc"/>, the driver
/// records both in image metadata (<c>deltasnap.received.SNAP</c>, with the new snapshot's id) and the lineage
/// reports them back: <see cref="SnapshotInfo.ReceivedFrom"/> is the source identity and
/// <see cref="SnapshotInfo.CreatedUtc"/> the source's creation time, so a copy shows the source's name and time
/// and matches it by identity. A record whose snapshot id no longer matches (the snapshot was deleted and
/// re-created outside DeltaSnap) is ignored.</para>
/// </remarks>
public sealed partial class RbdVolume : Volume
{
    private readonly RbdDriver _driver;
    private readonly RbdLocation _location;

    internal RbdVolume(RbdDriver driver, string name, RbdLocation location)
        : base(driver, name, VolumeKind.Block)
    {
        _driver = driver;
        _location = location;
    }

    /// <summary>The pool holding the image.</summary>
    public string Pool => _location.Pool;

    /// <summary>The RADOS namespace of the image, or null.</summary>
    public string? Namespace => _location.Namespace;

    /// <summary>The image name within the pool.</summary>
    public string ImageName => _location.Image;

    /// <summary>
    /// The extents that differ between <paramref name="baseSnapshot"/> (null: an empty image) and
    /// <paramref name="snapshot"/> (null: the live image), from <c>rbd_diff_iterate2</c>, ascending. Extents may be
    /// larger than what was written (RBD reports from the start of a new object).
    /// </summary>
    /// <exception cref="VolumeNotFoundException">The image or one of the snapshots does not exist.</exception>
    public Task<IReadOnlyList<RbdChangedExtent>> GetChangedExtentsAsync(string? baseSnapshot, string? snapshot, CancellationToken cancellationToken = default)
    {
        ValidateOptionalSnapshot(baseSnapshot);
        ValidateOptionalSnapshot(snapshot);
        return _driver.RunAsync<IReadOnlyList<RbdChangedExtent>>(_location, snapshot, readOnly: true, image => ChangedExtents(image, baseSnapshot), cancellationToken);
    }

    /// <summary>
    /// Writes what <c>rbd export-diff [--from-snap BASE] POOL/IMAGE[@SNAP] -</c> writes: the changed extents from
    /// <paramref name="fromSnapshot"/> to <paramref name="snapshot"/> (null: the live image), read at that snapshot.
    /// Holes become <c>z</c> records without being read; data that reads back as zeros becomes <c>z</c> records too.
    /// </summary>
    /// <exception cref="VolumeNotFoundException">The image or a snapshot does not exist.</exception>
    public async Task<RbdDiffExportResult> ExportDiffAsync(string? fromSnapshot, string? snapshot, Stream destination, RbdDiffFormat format = RbdDiffFormat.V1, CancellationToken cancellationToken = default)
    {
        ValidateOptionalSnapshot(fromSnapshot);
        ValidateOptionalSnapshot(snapshot);
        ArgumentNullException.ThrowIfNull(destination);
        var device = await OpenRbdDeviceAsync(snapshot, writable: false, cancellationToken).ConfigureAwait(false);
        await using (device.ConfigureAwait(false))
        {
            var extents = await Task.Run(() => ChangedExtents(device.Image, fromSnapshot), cancellationToken).ConfigureAwait(false);
            var options = new RbdDiffExportOptions { FromSnapshot = fromSnapshot, ToSnapshot = snapshot, ImageSize = device.Length, Format = format, MaxReadsInFlight = 16 };
            var result = await RbdDiff.ExportExtentsAsync(device, extents.Select(e => (e.Range, !e.HasData)).ToList(), destination, options, cancellationToken).ConfigureAwait(false);
            Log.DiffExported(Logger, fromSnapshot, snapshot, format.ToString(), result.BytesWritten, result.BytesZeroed);
            return result;
        }
    }

    /// <summary>
    /// Does what <c>rbd import-diff FILE POOL/IMAGE</c> does: checks that the diff's start snapshot exists here and
    /// its end snapshot does not (before writing anything), applies the diff to the live image (resizing it to the
    /// diff's size), and creates the end snapshot last. A seekable stream is checked whole before the first write.
    /// </summary>
    /// <returns>The snapshot created, or null when the diff names no end snapshot.</returns>
    /// <exception cref="NativeStreamMismatchException">The start snapshot is missing or the end snapshot exists already.</exception>
    /// <exception cref="CorruptDataException">The stream is corrupt or truncated; no snapshot is created.</exception>
    /// <exception cref="ArgumentException">A snapshot name in the diff breaks the snapshot name rules.</exception>
    public async Task<SnapshotInfo?> ImportDiffAsync(Stream source, RbdDiffApplyOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        options ??= new RbdDiffApplyOptions();
        if (options.ValidateSeekableStreamFirst && source.CanSeek)
        {
            var start = source.Position;
            using (var check = new RbdDiffReader(source, options.MaxBufferedRecordLength))
            {
                await check.ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
                await check.ValidateRestAsync(cancellationToken).ConfigureAwait(false);
            }
            source.Position = start;
        }
        using var reader = new RbdDiffReader(source, options.MaxBufferedRecordLength);
        var header = await reader.ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
        ValidateOptionalSnapshot(header.FromSnapshot);
        ValidateOptionalSnapshot(header.ToSnapshot);

        var device = await OpenRbdDeviceAsync(null, writable: true, cancellationToken).ConfigureAwait(false);
        await using (device.ConfigureAwait(false))
        {
            await Task.Run(() =>
            {
                if (header.FromSnapshot is { } from && !device.Image.SnapshotExists(from))
                {
                    throw new NativeStreamMismatchException($"The rbd diff starts from snapshot '{from}', which {Address} does not have; nothing was written.");
                }
                if (header.ToSnapshot is { } to && device.Image.SnapshotExists(to))
                {
                    throw new NativeStreamMismatchException($"The rbd diff ends at snapshot '{to}', which {Address} has already; nothing was written.");
                }
            }, cancellationToken).ConfigureAwait(false);
            if (header.ImageSize is { } size && size != device.Length && options.ResizeTarget)
            {
                await device.SetLengthAsync(size, cancellationToken).ConfigureAwait(false);
            }
            var result = await RbdDiff.ApplyRecordsAsync(reader, header, device, options.MaxWritesInFlight, cancellationToken).ConfigureAwait(false);
            Log.DiffApplied(Logger, header.FromSnapshot, header.ToSnapshot, Address, result.BytesWritten, result.BytesZeroed);
        }
        return header.ToSnapshot is { } snapshot ? await CreateSnapshotAsync(snapshot, null, cancellationToken).ConfigureAwait(false) : null;
    }

    /// <summary>Opens a snapshot (read-only) or the live image as an <see cref="RbdBlockDevice"/>.</summary>
    /// <exception cref="VolumeNotFoundException">The image or snapshot does not exist.</exception>
    public async Task<RbdBlockDevice> OpenRbdDeviceAsync(string? snapshot, bool writable, CancellationToken cancellationToken = default) =>
        (RbdBlockDevice)await OpenDeviceAsync(snapshot, writable, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    protected override Task<long> GetSizeCoreAsync(CancellationToken cancellationToken) =>
        _driver.RunAsync(_location, null, readOnly: true, static image => image.GetSize(), cancellationToken);

    /// <inheritdoc />
    protected override Task ResizeCoreAsync(long size, CancellationToken cancellationToken) =>
        _driver.RunAsync(_location, null, readOnly: false, image =>
        {
            image.Resize(size);
            return 0;
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task<SnapshotLineage> GetLineageCoreAsync(CancellationToken cancellationToken) =>
        _driver.RunAsync(_location, null, readOnly: true, ReadLineage, cancellationToken);

    /// <summary>The lineage, read through any open handle of the image (the live image's or a snapshot's).</summary>
    private SnapshotLineage ReadLineage(RbdImage image)
    {
        var imageId = image.GetId();
        var records = image.ListMetadata(ReceivedRecord.KeyPrefix);
        return new SnapshotLineage(image.ListSnapshots().Select(s => Describe(image, imageId, s, records)).ToList());
    }

    /// <inheritdoc />
    protected override Task<SnapshotInfo> CreateSnapshotCoreAsync(string name, SnapshotCreateOptions options, CancellationToken cancellationToken) =>
        _driver.RunAsync(_location, null, readOnly: false, image => CreateSnapshotOn(image, name, options), cancellationToken);

    /// <summary>
    /// Creates a snapshot on an open, writable image and writes (or clears) its received-from record: pending before
    /// the snapshot exists, final after, so a kill between the two still leaves a snapshot that is recognised.
    /// </summary>
    private SnapshotInfo CreateSnapshotOn(RbdImage image, string name, SnapshotCreateOptions options, bool skipQuiesce = false)
    {
        var key = ReceivedRecord.KeyOf(name);
        var records = new Dictionary<string, string>(StringComparer.Ordinal);
        SnapshotIdentity? received = options.ReceivedFrom is { IsEmpty: false } f ? f : null;
        var sourceCreated = options.CreatedUtc?.ToUnixTimeSeconds();
        var existing = image.ListSnapshots();
        // A snapshot of this name already there: librbd refuses the creation below, and its record must stay as it is.
        var recorded = (options.ReceivedFrom is not null || options.CreatedUtc is not null) && !existing.Exists(s => s.Name == name);
        if (recorded)
        {
            var highest = existing.Select(s => s.Id).DefaultIfEmpty(0UL).Max();
            image.SetMetadata(key, ReceivedRecord.Pending(highest, DateTimeOffset.UtcNow, received, sourceCreated).Serialize());
        }
        else if (!existing.Exists(s => s.Name == name))
        {
            image.RemoveMetadata(key); // a record left by an earlier snapshot of this name
        }
        try
        {
            if (skipQuiesce)
            {
                image.CreateSnapshotWithoutQuiesce(name);
            }
            else
            {
                image.CreateSnapshot(name);
            }
        }
        catch (Exception) when (recorded)
        {
            RemoveRecordQuietly(image, key);
            throw;
        }
        var entry = image.ListSnapshots().Find(s => s.Name == name);
        if (recorded)
        {
            try
            {
                var text = new ReceivedRecord(entry.Id, received, sourceCreated).Serialize();
                image.SetMetadata(key, text);
                records[key] = text;
            }
            catch (Exception e)
            {
                Log.SnapshotUndone(Logger, e, _location.ToString(), name);
                try
                {
                    image.RemoveSnapshot(name);
                }
                catch (RbdException)
                {
                    // The original failure is the one to report.
                }
                RemoveRecordQuietly(image, key);
                throw;
            }
        }
        var info = Describe(image, image.GetId(), entry, records);
        Log.SnapshotCreated(Logger, _location.ToString(), name, entry.Id, info.ReceivedFrom?.ToString());
        return info;
    }

    /// <summary>Removes a record after a failure that is itself the error to report.</summary>
    private static void RemoveRecordQuietly(RbdImage image, string key)
    {
        try
        {
            image.RemoveMetadata(key);
        }
        catch (RbdException)
        {
            // A pending record of a snapshot that does not exist is ignored by the lineage.
        }
    }

    /// <inheritdoc />
    protected override Task DeleteSnapshotCoreAsync(string name, CancellationToken cancellationToken) =>
        _driver.RunAsync(_location, null, readOnly: false, image =>
        {
            try
            {
                image.RemoveSnapshot(name);
            }
            catch (RbdException e) when (e.Errno == LinuxErrno.Enoent)
            {
                throw new VolumeNotFoundException($"{Address} has no snapshot '{name}'.", e);
            }
            image.RemoveMetadata(ReceivedRecord.KeyOf(name));
            // And any removal a killed process left half-done (a trash snapshot, hidden from the lineage but holding its data).
            image.RemoveTrashedSnapshots();
            return 0;
        }, cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// When the image has the snapshot's size and differs from it by at most
    /// <see cref="RbdDriverOptions.DeltaRollbackLimit"/> bytes (per <c>rbd_diff_iterate2</c>), only the chunks of
    /// those extents whose content differs are copied back from the snapshot (holes as zeroing); a live state that
    /// has not changed costs one object-map diff. Otherwise <c>rbd_snap_rollback</c> rolls every object back.
    /// </remarks>
    protected override async Task RollbackCoreAsync(string name, CancellationToken cancellationToken)
    {
        var head = await OpenRbdDeviceAsync(null, writable: true, cancellationToken).ConfigureAwait(false);
        await using (head.ConfigureAwait(false))
        {
            await RollBackAsync(head, name, overwritten: null, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Rolls the live image, open as <paramref name="head"/>, back to snapshot <paramref name="name"/>, except for
    /// <paramref name="overwritten"/>: ranges the caller writes next anyway (a native receive's coverage), which need
    /// no restoring.
    /// </summary>
    private async Task RollBackAsync(RbdBlockDevice head, string name, RangeSet? overwritten, CancellationToken cancellationToken)
    {
        var limit = _driver.Options.DeltaRollbackLimit;
        var changes = await Task.Run<RangeSet?>(() =>
        {
            var image = head.Image;
            var snapshot = image.ListSnapshots().Find(s => s.Name == name);
            if (snapshot.Name is null)
            {
                throw new VolumeNotFoundException($"{Address} has no snapshot '{name}'.");
            }
            var size = head.Length;
            if (limit <= 0 || (long)snapshot.Size != size)
            {
                return null;
            }
            // Whole objects first: with fast-diff that is the object map alone, so an unchanged image costs almost nothing.
            if (image.DiffIterate(name, 0, size, wholeObject: true).Count == 0)
            {
                return new RangeSet();
            }
            var changed = new RangeSet(image.DiffIterate(name, 0, size, wholeObject: false).Select(e => new ByteRange(e.Offset, e.Length)));
            if (overwritten is not null)
            {
                changed = changed.Subtract(overwritten);
            }
            return changed.TotalLength <= limit ? changed : null;
        }, cancellationToken).ConfigureAwait(false);

        if (changes is null)
        {
            await Task.Run(() =>
            {
                head.Image.Rollback(name);
                head.RefreshLength();
            }, cancellationToken).ConfigureAwait(false);
            Log.RolledBack(Logger, _location.ToString(), name, "rbd_snap_rollback", -1);
            return;
        }
        long copied = 0;
        if (changes.Count > 0)
        {
            copied = await CopyBackAsync(head, name, changes, cancellationToken).ConfigureAwait(false);
        }
        Log.RolledBack(Logger, _location.ToString(), name, "changed extents", copied);
    }

    /// <summary>Copies the chunks of <paramref name="changes"/> whose content differs from the snapshot back into the live image; returns the bytes rewritten.</summary>
    private async Task<long> CopyBackAsync(RbdBlockDevice head, string name, RangeSet changes, CancellationToken cancellationToken)
    {
        const int Chunk = 1 << 20;
        long copied = 0;
        var snapshot = await OpenRbdDeviceAsync(name, writable: false, cancellationToken).ConfigureAwait(false);
        await using (snapshot.ConfigureAwait(false))
        {
            var pieces = changes.SelectMany(range => Split(range, Chunk));
            await Parallel.ForEachAsync(pieces, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken }, async (piece, token) =>
            {
                var old = IoBuffers.Pool.Rent((int)piece.Length);
                var now = IoBuffers.Pool.Rent((int)piece.Length);
                try
                {
                    var wanted = old.AsMemory(0, (int)piece.Length);
                    var current = now.AsMemory(0, (int)piece.Length);
                    // RBD reports an extent written since the snapshot even when it was written back to the same bytes
                    // (as a rollback does): compare, and write only what differs.
                    await Task.WhenAll(snapshot.ReadAsync(piece.Offset, wanted, token).AsTask(), head.ReadAsync(piece.Offset, current, token).AsTask()).ConfigureAwait(false);
                    if (wanted.Span.SequenceEqual(current.Span))
                    {
                        return;
                    }
                    if (wanted.Span.ContainsAnyExcept((byte)0))
                    {
                        await head.WriteAsync(piece.Offset, wanted, token).ConfigureAwait(false);
                    }
                    else
                    {
                        await head.UnmapAsync(piece, token).ConfigureAwait(false);
                    }
                    Interlocked.Add(ref copied, piece.Length);
                }
                finally
                {
                    IoBuffers.Pool.Return(old);
                    IoBuffers.Pool.Return(now);
                }
            }).ConfigureAwait(false);
            await head.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        return copied;
    }

    private static IEnumerable<ByteRange> Split(ByteRange range, long chunk)
    {
        for (var offset = range.Offset; offset < range.End;)
        {
            var end = Math.Min(range.End, (offset / chunk + 1) * chunk);
            yield return ByteRange.FromBounds(offset, end);
            offset = end;
        }
    }

    /// <inheritdoc />
    protected override Task RenameSnapshotCoreAsync(string name, string newName, CancellationToken cancellationToken) =>
        _driver.RunAsync(_location, null, readOnly: false, image =>
        {
            var record = image.GetMetadata(ReceivedRecord.KeyOf(name));
            try
            {
                image.RenameSnapshot(name, newName);
            }
            catch (RbdException e) when (e.Errno == LinuxErrno.Enoent)
            {
                throw new VolumeNotFoundException($"{Address} has no snapshot '{name}'.", e);
            }
            if (record is not null)
            {
                image.SetMetadata(ReceivedRecord.KeyOf(newName), record);
                image.RemoveMetadata(ReceivedRecord.KeyOf(name));
            }
            else
            {
                image.RemoveMetadata(ReceivedRecord.KeyOf(newName));
            }
            return 0;
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task<BlockDevice> OpenDeviceCoreAsync(string? snapshot, bool writable, CancellationToken cancellationToken) =>
        Task.Run<BlockDevice>(() =>
        {
            var readOnly = snapshot is not null || !writable;
            var image = _driver.OpenImage(_location, snapshot, readOnly);
            try
            {
                var size = image.GetSize();
                Log.DeviceOpened(Logger, image.Spec, readOnly ? "read-only" : "read-write", size);
                return new RbdBlockDevice(image, size, snapshot);
            }
            catch
            {
                image.Dispose();
                throw;
            }
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task<bool> IsLiveStateUnchangedCoreAsync(string snapshot, CancellationToken cancellationToken) =>
        _driver.RunAsync(_location, null, readOnly: true, image =>
        {
            // The image's own diff from the snapshot to the live image: empty, and the same size. Whole objects first:
            // with fast-diff that is the object maps alone, where the exact diff lists the snapshots of every object
            // (what `rbd diff --from-snap` does); an empty whole-object diff means an empty exact one.
            var size = image.GetSize();
            var entry = image.ListSnapshots().Find(s => s.Name == snapshot);
            return entry.Name == snapshot && (long)entry.Size == size
                && (image.DiffIterate(snapshot, 0, size, wholeObject: true).Count == 0 || image.DiffIterate(snapshot, 0, size, wholeObject: false).Count == 0);
        }, cancellationToken);

    /// <inheritdoc />
    protected override async Task<RangeSet> GetChangedRangesCoreAsync(string? baseSnapshot, string snapshot, CancellationToken cancellationToken)
    {
        var extents = await GetChangedExtentsAsync(baseSnapshot, snapshot, cancellationToken).ConfigureAwait(false);
        return new RangeSet(extents.Select(e => e.Range));
    }

    private List<RbdChangedExtent> ChangedExtents(RbdImage image, string? baseSnapshot)
    {
        List<RbdDiffIterateExtent> extents;
        try
        {
            extents = image.DiffIterate(baseSnapshot, 0, image.GetSize(), wholeObject: false);
        }
        catch (RbdException e) when (e.Errno == LinuxErrno.Enoent && baseSnapshot is not null)
        {
            throw new VolumeNotFoundException($"{Address} has no snapshot '{baseSnapshot}'.", e);
        }
        var result = extents.Select(e => new RbdChangedExtent(new ByteRange(e.Offset, e.Length), e.Exists)).ToList();
        Log.ChangedRanges(Logger, image.Spec, baseSnapshot ?? "the beginning", result.Count,
            result.Where(e => e.HasData).Sum(e => e.Range.Length), result.Where(e => !e.HasData).Sum(e => e.Range.Length));
        return result;
    }

    private SnapshotInfo Describe(RbdImage image, string imageId, RbdSnapshotEntry snapshot, Dictionary<string, string> records)
    {
        var created = image.GetSnapshotTimestamp(snapshot.Id);
        var identity = new SnapshotIdentity("rbd", $"{imageId}.{snapshot.Id}@{created.ToUnixTimeSeconds()}");
        ReceivedRecord? record = null;
        if (records.TryGetValue(ReceivedRecord.KeyOf(snapshot.Name), out var text))
        {
            record = ReceivedRecord.TryParse(text, out var problem);
            if (record is null)
            {
                Log.StaleRecord(Logger, _location.ToString(), snapshot.Name, problem ?? "unreadable");
            }
            else if (!record.BelongsTo(snapshot.Id, created, out var reason))
            {
                Log.StaleRecord(Logger, _location.ToString(), snapshot.Name, reason!);
                record = null;
            }
        }
        var time = record?.SourceCreatedUnixSeconds is { } seconds ? DateTimeOffset.FromUnixTimeSeconds(seconds) : created;
        return new SnapshotInfo(snapshot.Name, identity, time)
        {
            ReceivedFrom = record?.From,
            Size = checked((long)snapshot.Size),
        };
    }

    private void ValidateOptionalSnapshot(string? snapshot)
    {
        if (snapshot is not null)
        {
            Driver.SnapshotNameRules.Validate(snapshot, "snapshot name");
        }
    }
}
