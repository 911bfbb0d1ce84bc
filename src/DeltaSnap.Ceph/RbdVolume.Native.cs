using System.Buffers;
using System.Text;
using System.Text.Json;
using DeltaSnap.Ceph.Diagnostics;
using DeltaSnap.Ceph.Interop;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Ceph;

/// <summary>The native RBD stream (with <see cref="RbdDriverOptions.NativeStream"/>).</summary>
/// <remarks>
/// The stream is an <c>rbd diff v2</c>: <c>f</c>/<c>t</c>/<c>s</c> records as <c>rbd export-diff</c> writes them,
/// a <c>D</c> record (JSON: the identities of the base and the snapshot), the data and zero records of the
/// extents <c>rbd_diff_iterate2</c> reports, read at the snapshot, and an <c>H</c> record (the XXH3-128 digest of
/// the records) before the end. Ceph skips the two extra records by their length, so the stream stays a valid
/// v2 diff. The receiver checks the header against the target base before writing anything, applies the records
/// to the live image, compares the digest (and, with <see cref="RbdDriverOptions.ReadBackAfterReceive"/>, reads
/// the extents back and compares again), and only then creates the
/// snapshot, recording the source's origin identity (its own received-from, else its identity, as the checksum route
/// does, so chains of copies still match) and time. If anything fails after the first write, the image is put
/// back to the base (or emptied, for a full stream) before the exception propagates.
/// </remarks>
public sealed partial class RbdVolume
{
    private const byte IdentityTag = (byte)'D';

    private const byte DigestTag = (byte)'H';

    private const byte CoverageTag = (byte)'X';

    // RBD spreads writes over objects, and small scattered extents (one per written block) pay off in numbers, both
    // read and written. Measured on the single-OSD test cluster: 64 KiB records after a snapshot, 4 writes in flight
    // 335 ms, 16 275 ms, 64 250 ms for 10 MiB; a whole refresh of 2,600 scattered 4 KiB blocks of a 1 GiB image, 16
    // reads/64 writes in flight 0.90 x the rbd export-diff | import-diff pipe, 16/128 0.91, 32/128 0.81, 64/256 0.70-0.76
    // (10 %: 0.88 against 0.76). The copies bound the bytes in flight as well (RbdDiff), so whole-object records of a
    // full send are not held 64 or 256 at a time.
    private const int ReceiveWritesInFlight = 256;
    private const int SendReadsInFlight = 64;
    private const int ReadBackInFlight = 32;

    /// <inheritdoc />
    protected override async Task SendCoreAsync(string? baseSnapshot, string snapshot, Stream destination, NativeSendOptions options, CancellationToken cancellationToken)
    {
        var device = await OpenRbdDeviceAsync(snapshot, writable: false, cancellationToken).ConfigureAwait(false);
        await using (device.ConfigureAwait(false))
        {
            var lineage = await Task.Run(() => ReadLineage(device.Image), cancellationToken).ConfigureAwait(false);
            var to = lineage.Find(snapshot) ?? throw new VolumeNotFoundException($"{Address} has no snapshot '{snapshot}'.");
            var from = baseSnapshot is null ? null : lineage.Find(baseSnapshot) ?? throw new VolumeNotFoundException($"{Address} has no snapshot '{baseSnapshot}'.");
            var writer = new RbdDiffWriter(destination, RbdDiffFormat.V2) { Digest = new RecordDigest() };
            await writer.WriteHeaderAsync(new RbdDiffHeader { FromSnapshot = baseSnapshot, ToSnapshot = snapshot, ImageSize = device.Length }, cancellationToken).ConfigureAwait(false);
            await writer.WriteExtraRecordAsync(IdentityTag, NativeIdentities.Create(from, to).Serialize(), cancellationToken).ConfigureAwait(false);
            // The header goes out before the extents are listed, so the receiver starts reading it meanwhile.
            await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
            var extents = await Task.Run(() => ChangedExtents(device.Image, baseSnapshot), cancellationToken).ConfigureAwait(false);
            var work = extents.Select(e => (e.Range, !e.HasData)).ToList();
            long written, zeroed;
            if (baseSnapshot is not null && _driver.Options.SendChangedContentOnly)
            {
                RbdBlockDevice? baseDevice = null;
                try
                {
                    var result = await RbdContentDelta.WriteAsync(device, async token => baseDevice = await OpenRbdDeviceAsync(baseSnapshot, writable: false, token).ConfigureAwait(false),
                        work, writer, (ranges, token) => WriteCoverageAsync(writer, ranges, token), SendReadsInFlight, RbdContentDelta.HeldBytesLimit, cancellationToken).ConfigureAwait(false);
                    (written, zeroed) = (result.Written, result.Zeroed);
                    Log.NativeContentCompared(Logger, _location.ToString(), snapshot, baseSnapshot, result.Unchanged, result.Covered);
                }
                finally
                {
                    if (baseDevice is not null)
                    {
                        await baseDevice.DisposeAsync().ConfigureAwait(false);
                    }
                }
            }
            else
            {
                await WriteCoverageAsync(writer, work.Select(e => e.Range), cancellationToken).ConfigureAwait(false);
                var exportOptions = new RbdDiffExportOptions
                {
                    FromSnapshot = baseSnapshot,
                    ToSnapshot = snapshot,
                    Format = RbdDiffFormat.V2,
                    ImageSize = device.Length,
                    MaxReadsInFlight = SendReadsInFlight,
                };
                (written, zeroed, _) = await RbdDiff.WriteExtentsAsync(device, work, writer, exportOptions, cancellationToken).ConfigureAwait(false);
            }
            await writer.WriteExtraRecordAsync(DigestTag, writer.Digest.GetHash(), cancellationToken).ConfigureAwait(false);
            await writer.CompleteAsync(cancellationToken).ConfigureAwait(false);
            Log.NativeSent(Logger, _location.ToString(), snapshot, baseSnapshot, written, zeroed, writer.Length);
        }
    }

    /// <summary>Writes the coverage records of <paramref name="ranges"/> (the ranges the records after them write).</summary>
    private static async ValueTask WriteCoverageAsync(RbdDiffWriter writer, IEnumerable<ByteRange> ranges, CancellationToken cancellationToken)
    {
        foreach (var coverage in RbdStreamCoverage.Encode(ranges))
        {
            await writer.WriteExtraRecordAsync(CoverageTag, coverage, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Opens the live image for writing and reads its lineage through that handle, while the template reads the
    /// stream's header (and the sender lists its extents): neither writes anything. The one writable handle serves the
    /// whole receive: it takes the exclusive lock once (at the first write) and makes the snapshot itself.
    /// </summary>
    protected override async Task<NativeReceiveTarget> ReadNativeReceiveTargetCoreAsync(NativeReceiveRequest request, CancellationToken cancellationToken)
    {
        var device = await OpenRbdDeviceAsync(null, writable: true, cancellationToken).ConfigureAwait(false);
        try
        {
            var lineage = await Task.Run(() => ReadLineage(device.Image), cancellationToken).ConfigureAwait(false);
            return new RbdReceiveTarget(lineage, device);
        }
        catch
        {
            await device.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Reads the stream's <c>f</c>/<c>t</c>/<c>s</c> records, its identity record (<c>D</c>) and its coverage records:
    /// the snapshot it carries, the base it is incremental from (and what that base was received from).
    /// </summary>
    /// <exception cref="NativeStreamMismatchException">The stream is a plain <c>rbd diff</c>, without DeltaSnap's identity record.</exception>
    /// <exception cref="CorruptDataException">The stream or its identity record is damaged.</exception>
    protected override async Task<NativeStreamHeader?> ReadNativeStreamHeaderCoreAsync(Stream source, CancellationToken cancellationToken)
    {
        var reader = new RbdDiffReader(source) { Digest = new RecordDigest(), RecordLog = [] };
        var header = await reader.ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
        var identities = NativeIdentities.Find(reader, header, Address);
        var covered = RbdStreamCoverage.Decode(reader.ExtraRecords.Where(r => r.Tag == CoverageTag).Select(r => r.Payload), header.ImageSize ?? long.MaxValue);
        return new RbdReceiveHeader(reader, header, identities, covered);
    }

    /// <inheritdoc />
    protected override async Task<SnapshotInfo> ReceiveCoreAsync(Stream source, NativeReceiveRequest request, NativeStreamHeader? header, NativeReceiveTarget target, CancellationToken cancellationToken)
    {
        var verify = _driver.Options.ReadBackAfterReceive;
        var native = (RbdReceiveHeader)header!;
        using var reader = native.Reader;
        var diff = native.Diff;
        var covered = native.Covered;
        var touched = false;
        long originalSize = 0;
        try
        {
            var device = ((RbdReceiveTarget)target).TakeDevice();
            await using (device.ConfigureAwait(false))
            {
                originalSize = device.Length;
                touched = true;
                if (request.TargetBase is { } targetBase)
                {
                    // The live state must equal the base where the stream does not write; a diverged one is brought
                    // back (cheaply when it barely moved).
                    await RollBackAsync(device, targetBase.Name, covered, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await EmptyAsync(device, cancellationToken).ConfigureAwait(false);
                }
                if (diff.ImageSize is { } size && size != device.Length)
                {
                    await device.SetLengthAsync(size, cancellationToken).ConfigureAwait(false);
                }
                var applied = await RbdDiff.ApplyRecordsAsync(reader, diff, device, ReceiveWritesInFlight, cancellationToken).ConfigureAwait(false);
                var unwritten = covered.Subtract(new RangeSet(reader.RecordLog!.Select(r => r.Range)));
                if (!unwritten.IsEmpty)
                {
                    // The rollback left these as they were, trusting the stream to write them.
                    throw new CorruptDataException(
                        $"The native RBD stream for {request.Snapshot} says it writes {unwritten} but has no records there; the snapshot was not created.");
                }
                var expected = reader.ExtraRecords.LastOrDefault(r => r.Tag == DigestTag).Payload;
                var actual = reader.Digest!.GetHash();
                if (expected is null || !expected.AsSpan().SequenceEqual(actual))
                {
                    throw new CorruptDataException(
                        $"The native RBD stream for {request.Snapshot} {(expected is null ? "has no digest record" : "does not match its digest")}; the snapshot was not created.");
                }
                if (verify)
                {
                    var readBack = await ReadBackDigestAsync(device, reader.RecordLog!, cancellationToken).ConfigureAwait(false);
                    if (!readBack.AsSpan().SequenceEqual(actual))
                    {
                        throw new CorruptDataException($"{Address} does not read back what was written for {request.Snapshot}; the snapshot was not created.");
                    }
                }
                Log.NativeReceived(Logger, _location.ToString(), request.Snapshot.Name, diff.FromSnapshot, applied.BytesWritten, applied.BytesZeroed, verify);
                var options = new SnapshotCreateOptions { ReceivedFrom = request.Snapshot.ReceivedFrom ?? request.Snapshot.Identity, CreatedUtc = request.Snapshot.CreatedUtc };
                // A replica being received has no application to quiesce: skip librbd's quiesce notifications.
                return await Task.Run(() => CreateSnapshotOn(device.Image, request.Snapshot.Name, options, skipQuiesce: true), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (touched)
        {
            Log.NativeReceiveRestoring(Logger, e, _location.ToString(), request.TargetBase?.Name ?? "an empty image");
            await RestoreAsync(request.TargetBase, originalSize).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Puts the image back after a failed receive: to the base, or empty at its old size.</summary>
    private async Task RestoreAsync(SnapshotInfo? targetBase, long originalSize)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            if (targetBase is not null)
            {
                await RollbackCoreAsync(targetBase.Name, timeout.Token).ConfigureAwait(false);
                return;
            }
            var device = await OpenRbdDeviceAsync(null, writable: true, timeout.Token).ConfigureAwait(false);
            await using (device.ConfigureAwait(false))
            {
                await EmptyAsync(device, timeout.Token).ConfigureAwait(false);
                if (originalSize > 0 && device.Length != originalSize)
                {
                    await device.SetLengthAsync(originalSize, timeout.Token).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is DeltaSnapException or IOException or OperationCanceledException or InvalidOperationException)
        {
            Log.NativeRestoreFailed(Logger, e, _location.ToString());
        }
    }

    /// <summary>Zeroes every allocated extent (a full stream lands on an empty image).</summary>
    private static async Task EmptyAsync(RbdBlockDevice device, CancellationToken cancellationToken)
    {
        await foreach (var range in device.GetAllocatedRangesAsync(new ByteRange(0, device.Length), cancellationToken).ConfigureAwait(false))
        {
            await device.UnmapAsync(range, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads the received records back from the image and digests them as the stream's digest was made.</summary>
    private static async Task<byte[]> ReadBackDigestAsync(RbdBlockDevice device, List<(RbdDiffRecordKind Kind, ByteRange Range)> records, CancellationToken cancellationToken)
    {
        const int Chunk = 4 << 20;
        const int Window = ReadBackInFlight;
        var digest = new RecordDigest();
        var pieces = new List<(int Record, ByteRange Piece)>();
        for (var i = 0; i < records.Count; i++)
        {
            foreach (var piece in Split(records[i].Range, Chunk))
            {
                pieces.Add((i, piece));
            }
        }
        var inFlight = new Queue<(byte[] Buffer, Task Read)>();
        var next = 0;
        void Start()
        {
            while (next < pieces.Count && inFlight.Count < Window)
            {
                var piece = pieces[next++].Piece;
                var buffer = IoBuffers.Pool.Rent((int)piece.Length);
                inFlight.Enqueue((buffer, device.ReadAsync(piece.Offset, buffer.AsMemory(0, (int)piece.Length), cancellationToken).AsTask()));
            }
        }
        var lastRecord = -1;
        try
        {
            Start();
            foreach (var (record, piece) in pieces)
            {
                var (buffer, read) = inFlight.Dequeue();
                try
                {
                    await read.ConfigureAwait(false);
                    Start();
                    var (kind, range) = records[record];
                    if (record != lastRecord)
                    {
                        digest.AddRecord(kind, range.Offset, range.Length);
                        lastRecord = record;
                    }
                    var data = buffer.AsSpan(0, (int)piece.Length);
                    if (kind == RbdDiffRecordKind.Data)
                    {
                        digest.AddData(data);
                    }
                    else if (data.ContainsAnyExcept((byte)0))
                    {
                        digest.AddData([1]); // a zeroed range that is not zero: make the digests differ
                    }
                }
                finally
                {
                    IoBuffers.Pool.Return(buffer);
                }
            }
        }
        finally
        {
            await IoBuffers.DrainAsync(inFlight).ConfigureAwait(false);
        }
        // Records with no pieces (length 0) never occur: the reader skips empty data records and the writer empty zero ones.
        return digest.GetHash();
    }

    /// <summary>The snapshot identities a native stream carries in its <c>D</c> record.</summary>
    private sealed record NativeIdentities(SnapshotIdentity? From, SnapshotIdentity? FromReceivedFrom, SnapshotIdentity To)
    {
        public static NativeIdentities Create(SnapshotInfo? from, SnapshotInfo to) => new(from?.Identity, from?.ReceivedFrom, to.Identity);

        public byte[] Serialize()
        {
            var buffer = new ArrayBufferWriter<byte>(256);
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                json.WriteNumber("v", 1);
                if (From is { } from)
                {
                    json.WriteString("from", from.ToString());
                }
                if (FromReceivedFrom is { } fromReceived)
                {
                    json.WriteString("fromReceivedFrom", fromReceived.ToString());
                }
                json.WriteString("to", To.ToString());
                json.WriteEndObject();
            }
            return buffer.WrittenSpan.ToArray();
        }

        public static NativeIdentities Find(RbdDiffReader reader, RbdDiffHeader header, string address)
        {
            var record = reader.ExtraRecords.FirstOrDefault(r => r.Tag == IdentityTag).Payload;
            if (header.Format != RbdDiffFormat.V2 || record is null)
            {
                throw new NativeStreamMismatchException(
                    $"The stream sent to {address} is an rbd diff {header.Format.ToString().ToLowerInvariant()} without DeltaSnap's identity record, not a native RBD stream; nothing was written.");
            }
            try
            {
                using var document = JsonDocument.Parse(record);
                var root = document.RootElement;
                if (root.GetProperty("v").GetInt32() != 1)
                {
                    throw new CorruptDataException($"The native RBD stream's identity record has version {root.GetProperty("v").GetInt32()}, which this version does not know.");
                }
                SnapshotIdentity? Optional(string name) => root.TryGetProperty(name, out var p) ? SnapshotIdentity.Parse(p.GetString() ?? "") : null;
                return new NativeIdentities(Optional("from"), Optional("fromReceivedFrom"), SnapshotIdentity.Parse(root.GetProperty("to").GetString() ?? ""));
            }
            catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException or ArgumentException)
            {
                throw new CorruptDataException($"The native RBD stream's identity record is unreadable: {Encoding.UTF8.GetString(record.AsSpan(0, Math.Min(200, record.Length)))}", e);
            }
        }
    }

    /// <summary>The native stream's header as the template's header, with the reader that goes on with the records.</summary>
    private sealed record RbdReceiveHeader : NativeStreamHeader
    {
        public RbdReceiveHeader(RbdDiffReader reader, RbdDiffHeader diff, NativeIdentities identities, RangeSet covered)
            : base(identities.To)
        {
            Reader = reader;
            Diff = diff;
            Covered = covered;
            ToName = diff.ToSnapshot;
            From = identities.From;
            FromReceivedFrom = identities.FromReceivedFrom;
            FromName = diff.FromSnapshot;
        }

        public RbdDiffReader Reader { get; }

        public RbdDiffHeader Diff { get; }

        public RangeSet Covered { get; }

    }

    /// <summary>The target's lineage and the writable handle opened for the receive (closed here unless the receive took it).</summary>
    private sealed class RbdReceiveTarget(SnapshotLineage lineage, RbdBlockDevice device) : NativeReceiveTarget(lineage)
    {
        private RbdBlockDevice? _device = device;

        public RbdBlockDevice TakeDevice() => Interlocked.Exchange(ref _device, null) ?? throw new InvalidOperationException("The receive's device was taken already.");

        protected override ValueTask ReleaseCoreAsync() => Interlocked.Exchange(ref _device, null)?.DisposeAsync() ?? ValueTask.CompletedTask;
    }
}
