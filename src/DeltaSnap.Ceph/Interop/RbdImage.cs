using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace DeltaSnap.Ceph.Interop;

/// <summary>A snapshot as <c>rbd_snap_list</c> reports it.</summary>
internal readonly record struct RbdSnapshotEntry(ulong Id, string Name, ulong Size);

/// <summary>An extent <c>rbd_diff_iterate2</c> reports: data (<see cref="Exists"/>) or a hole/discard (reads as zeros).</summary>
internal readonly record struct RbdDiffIterateExtent(long Offset, long Length, bool Exists);

/// <summary>
/// An open RBD image or snapshot (<c>rbd_image_t</c>). Management calls are synchronous in librbd and run on
/// the calling thread (callers offload them); reads, writes, zeroing and flushes use librbd's AIO with a
/// completion callback, so many can be in flight on one handle (librbd serialises internally; QEMU drives a
/// whole VM disk through one handle the same way).
/// </summary>
internal sealed unsafe class RbdImage : IDisposable
{
    private readonly RbdImageHandle _handle;

    private RbdImage(RbdImageHandle handle, string spec, bool readOnly)
    {
        _handle = handle;
        Spec = spec;
        IsReadOnly = readOnly;
    }

    /// <summary><c>pool/image</c> or <c>pool/image@snap</c>, for messages.</summary>
    public string Spec { get; }

    /// <summary>Whether the image was opened read-only.</summary>
    public bool IsReadOnly { get; }

    /// <summary>Opens the live image or a snapshot.</summary>
    /// <exception cref="RbdException">ENOENT when the image or snapshot does not exist; other librbd errors.</exception>
    public static RbdImage Open(RadosIoContextHandle ioContext, string displayPool, string image, string? snapshot, bool readOnly)
    {
        var spec = $"{displayPool}/{image}" + (snapshot is null ? "" : "@" + snapshot);
        var r = readOnly
            ? LibRbd.OpenReadOnly(ioContext, image, out var handle, snapshot)
            : LibRbd.Open(ioContext, image, out handle, snapshot);
        if (r < 0)
        {
            handle.Dispose();
            throw new RbdException($"{(readOnly ? "rbd_open_read_only" : "rbd_open")}({spec})", r);
        }
        handle.SetParent(ioContext);
        return new RbdImage(handle, spec, readOnly);
    }

    /// <summary>The image's size (at the opened snapshot).</summary>
    public long GetSize()
    {
        Check(LibRbd.GetSize(_handle, out var size), "rbd_get_size");
        return checked((long)size);
    }

    /// <summary>The image's id, unique within its pool and never reused.</summary>
    public string GetId()
    {
        for (var length = 64; ; length *= 4)
        {
            var buffer = new byte[length];
            int r;
            fixed (byte* p = buffer)
            {
                r = LibRbd.GetId(_handle, p, (nuint)length);
            }
            if (r == -LinuxErrno.Erange && length < 65536)
            {
                continue;
            }
            Check(r, "rbd_get_id");
            return CString(buffer);
        }
    }

    /// <summary>Grows or shrinks the image.</summary>
    public void Resize(long size) => Check(LibRbd.Resize(_handle, (ulong)size), $"rbd_resize({size})");

    /// <summary>
    /// The user snapshots, in id order (creation order): what <c>rbd snap ls</c> shows. <c>rbd_snap_list</c> also
    /// returns the snapshots of other namespaces, among them trash snapshots named by a UUID: librbd moves a snapshot
    /// into the trash namespace first when it removes it, so a process killed during a removal leaves one there.
    /// </summary>
    public List<RbdSnapshotEntry> ListSnapshots() => ListSnapshotsIn(LibRbd.SnapNamespaceUser);

    /// <summary>The trash snapshots: removals a killed process left half-done, or snapshots that clones still use.</summary>
    public List<RbdSnapshotEntry> ListTrashedSnapshots() => ListSnapshotsIn(LibRbd.SnapNamespaceTrash);

    /// <summary>
    /// Finishes the removals of trash snapshots that a killed process left half-done; a trash snapshot that clones
    /// still use stays (librbd removes it with its last clone). Returns how many were removed.
    /// </summary>
    public int RemoveTrashedSnapshots()
    {
        var removed = 0;
        foreach (var snapshot in ListTrashedSnapshots())
        {
            var r = LibRbd.SnapRemoveById(_handle, snapshot.Id);
            if (r == -LinuxErrno.Ebusy || r == -LinuxErrno.Enoent)
            {
                continue; // still used by a clone, or removed meanwhile by another client
            }
            Check(r, $"rbd_snap_remove_by_id({Spec}, trash snapshot id {snapshot.Id})");
            removed++;
        }
        return removed;
    }

    private List<RbdSnapshotEntry> ListSnapshotsIn(int snapshotNamespace) =>
        ListAllSnapshots().FindAll(s =>
        {
            var r = LibRbd.SnapGetNamespaceType(_handle, s.Id, out var type);
            if (r == -LinuxErrno.Enoent)
            {
                return false; // removed since the listing
            }
            Check(r, $"rbd_snap_get_namespace_type({Spec}, id {s.Id})");
            return type == snapshotNamespace;
        });

    /// <summary>Every snapshot <c>rbd_snap_list</c> reports, of any namespace, in id order.</summary>
    private List<RbdSnapshotEntry> ListAllSnapshots()
    {
        var max = 16;
        while (true)
        {
            var snaps = new LibRbd.SnapInfo[max + 1];
            int r;
            fixed (LibRbd.SnapInfo* p = snaps)
            {
                var n = max;
                r = LibRbd.SnapList(_handle, p, ref n);
                if (r == -LinuxErrno.Erange)
                {
                    max = Math.Max(n, max * 2);
                    continue;
                }
                Check(r, "rbd_snap_list");
                var result = new List<RbdSnapshotEntry>(r);
                try
                {
                    for (var i = 0; i < r; i++)
                    {
                        result.Add(new RbdSnapshotEntry(p[i].Id, Marshal.PtrToStringUTF8(p[i].Name) ?? "", p[i].Size));
                    }
                }
                finally
                {
                    LibRbd.SnapListEnd(p);
                }
                result.Sort((a, b) => a.Id.CompareTo(b.Id));
                return result;
            }
        }
    }

    /// <summary>When snapshot <paramref name="snapId"/> was created.</summary>
    public DateTimeOffset GetSnapshotTimestamp(ulong snapId)
    {
        Check(LibRbd.SnapGetTimestamp(_handle, snapId, out var time), $"rbd_snap_get_timestamp(id {snapId})");
        return DateTimeOffset.FromUnixTimeSeconds(time.Seconds).AddTicks(time.Nanoseconds / 100);
    }

    /// <summary>Whether snapshot <paramref name="name"/> exists.</summary>
    public bool SnapshotExists(string name)
    {
        Check(LibRbd.SnapExists(_handle, name, out var exists), $"rbd_snap_exists({name})");
        return exists;
    }

    public void CreateSnapshot(string name) => Check(LibRbd.SnapCreate(_handle, name), $"rbd_snap_create({Spec}@{name})");

    /// <summary>Creates a snapshot without the quiesce round of notifications (for images no application uses: replicas being received).</summary>
    public void CreateSnapshotWithoutQuiesce(string name) =>
        Check(LibRbd.SnapCreate2(_handle, name, LibRbd.SnapCreateSkipQuiesce, IntPtr.Zero, IntPtr.Zero), $"rbd_snap_create2({Spec}@{name})");

    public void RemoveSnapshot(string name) => Check(LibRbd.SnapRemove(_handle, name), $"rbd_snap_remove({Spec}@{name})");

    public void Rollback(string name) => Check(LibRbd.SnapRollback(_handle, name), $"rbd_snap_rollback({Spec}@{name})");

    public void RenameSnapshot(string name, string newName) =>
        Check(LibRbd.SnapRename(_handle, name, newName), $"rbd_snap_rename({Spec}@{name} -> {newName})");

    /// <summary>An image metadata value, or null when the key is not set.</summary>
    public string? GetMetadata(string key)
    {
        for (var length = 256; ; )
        {
            var buffer = new byte[length];
            var n = (nuint)length;
            int r;
            fixed (byte* p = buffer)
            {
                r = LibRbd.MetadataGet(_handle, key, p, ref n);
            }
            if (r == -LinuxErrno.Enoent)
            {
                return null;
            }
            if (r == -LinuxErrno.Erange && (int)n > length)
            {
                length = (int)n;
                continue;
            }
            Check(r, $"rbd_metadata_get({Spec}, {key})");
            return CString(buffer.AsSpan(0, (int)Math.Min(n, (nuint)length)));
        }
    }

    public void SetMetadata(string key, string value) => Check(LibRbd.MetadataSet(_handle, key, value), $"rbd_metadata_set({Spec}, {key})");

    /// <summary>Removes a metadata key; a missing key is not an error.</summary>
    public void RemoveMetadata(string key)
    {
        var r = LibRbd.MetadataRemove(_handle, key);
        if (r != -LinuxErrno.Enoent)
        {
            Check(r, $"rbd_metadata_remove({Spec}, {key})");
        }
    }

    /// <summary>Every metadata key starting with <paramref name="prefix"/>, with its value.</summary>
    public Dictionary<string, string> ListMetadata(string prefix)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var start = prefix;
        const int PageSize = 64;
        nuint keysLength = 4096, valuesLength = 4096;
        while (true)
        {
            var keys = new byte[(int)keysLength];
            var values = new byte[(int)valuesLength];
            var kl = keysLength;
            var vl = valuesLength;
            int r;
            fixed (byte* k = keys)
            fixed (byte* v = values)
            {
                r = LibRbd.MetadataList(_handle, start, PageSize, k, ref kl, v, ref vl);
            }
            if (r == -LinuxErrno.Erange)
            {
                keysLength = Math.Max(kl, keysLength * 2);
                valuesLength = Math.Max(vl, valuesLength * 2);
                continue;
            }
            Check(r, $"rbd_metadata_list({Spec})");
            var keyList = RadosCluster.SplitNulTerminated(keys.AsSpan(0, (int)Math.Min(kl, keysLength)));
            var valueList = SplitValues(values.AsSpan(0, (int)Math.Min(vl, valuesLength)), keyList.Count);
            var beyond = false;
            for (var i = 0; i < keyList.Count; i++)
            {
                if (!keyList[i].StartsWith(prefix, StringComparison.Ordinal))
                {
                    beyond = true;
                    break;
                }
                result[keyList[i]] = valueList[i];
            }
            if (beyond || keyList.Count < PageSize)
            {
                return result;
            }
            start = keyList[^1];
        }
    }

    /// <summary>
    /// The extents that differ between <paramref name="fromSnapshot"/> (null: an empty image) and the opened
    /// snapshot or live image, inside [<paramref name="offset"/>, +<paramref name="length"/>), in ascending order.
    /// </summary>
    public List<RbdDiffIterateExtent> DiffIterate(string? fromSnapshot, long offset, long length, bool wholeObject)
    {
        var collector = new DiffCollector();
        var gc = GCHandle.Alloc(collector);
        try
        {
            var r = LibRbd.DiffIterate2(_handle, fromSnapshot, (ulong)offset, (ulong)length, 1, wholeObject ? (byte)1 : (byte)0, &OnDiffExtent, GCHandle.ToIntPtr(gc));
            collector.ThrowIfFailed();
            Check(r, $"rbd_diff_iterate2({Spec}, from {fromSnapshot ?? "the beginning"})");
        }
        finally
        {
            gc.Free();
        }
        var extents = collector.Extents;
        extents.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        return extents;
    }

    /// <summary>Reads into <paramref name="buffer"/> from <paramref name="offset"/> (AIO).</summary>
    public Task<long> ReadAsync(long offset, Memory<byte> buffer) =>
        SubmitAsync(AioKind.Read, offset, buffer.Length, buffer.Pin(), "rbd_aio_read2");

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/> (AIO).</summary>
    public Task<long> WriteAsync(long offset, ReadOnlyMemory<byte> data) =>
        SubmitAsync(AioKind.Write, offset, data.Length, data.Pin(), "rbd_aio_write2");

    /// <summary>Makes a range read as zeros, releasing whole objects and punching partial ones (AIO).</summary>
    public Task<long> WriteZeroesAsync(long offset, long length) =>
        SubmitAsync(AioKind.WriteZeroes, offset, length, default, "rbd_aio_write_zeroes");

    /// <summary>Discards a range (AIO). librbd may skip partial-object parts below the discard granularity.</summary>
    public Task<long> DiscardAsync(long offset, long length) =>
        SubmitAsync(AioKind.Discard, offset, length, default, "rbd_aio_discard");

    /// <summary>Flushes writes (AIO).</summary>
    public Task<long> FlushAsync() => SubmitAsync(AioKind.Flush, 0, 0, default, "rbd_aio_flush");

    /// <summary>Closes the image once no AIO is in flight.</summary>
    public void Dispose() => _handle.Dispose();

    private Task<long> SubmitAsync(AioKind kind, long offset, long length, MemoryHandle pin, string call)
    {
        // The image stays open while the AIO is in flight; the reference is dropped on the awaiting side (a pool
        // thread), so that once the caller sees the result the handle can close at once, and never on librbd's
        // completion thread.
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
        }
        catch
        {
            pin.Dispose();
            throw;
        }
        Task<long> task;
        try
        {
            task = Start(kind, offset, length, pin, call);
        }
        catch
        {
            _handle.DangerousRelease();
            throw;
        }
        return AioReference.ReleaseAfterAsync(_handle, task);
    }

    private Task<long> Start(AioKind kind, long offset, long length, MemoryHandle pin, string call)
    {
        var request = new AioRequest(pin, kind == AioKind.Flush ? $"{call}({Spec})" : $"{call}({Spec}, {offset}+{length})");
        var gc = GCHandle.Alloc(request);
        var r = LibRbd.AioCreateCompletion(GCHandle.ToIntPtr(gc), &OnAioComplete, out var completion);
        if (r >= 0)
        {
            var buffer = (byte*)pin.Pointer;
            r = kind switch
            {
                AioKind.Read => LibRbd.AioRead2(_handle, (ulong)offset, (nuint)length, buffer, completion, 0),
                AioKind.Write => LibRbd.AioWrite2(_handle, (ulong)offset, (nuint)length, buffer, completion, 0),
                AioKind.WriteZeroes => LibRbd.AioWriteZeroes(_handle, (ulong)offset, (nuint)length, completion, 0, 0),
                AioKind.Discard => LibRbd.AioDiscard(_handle, (ulong)offset, (ulong)length, completion),
                _ => LibRbd.AioFlush(_handle, completion),
            };
            if (r < 0)
            {
                LibRbd.AioRelease(completion);
            }
        }
        if (r < 0)
        {
            gc.Free();
            request.Complete(r);
        }
        return request.Task;
    }

    [UnmanagedCallersOnly]
    private static void OnAioComplete(IntPtr completion, IntPtr argument)
    {
        try
        {
            var gc = GCHandle.FromIntPtr(argument);
            var request = (AioRequest)gc.Target!;
            gc.Free();
            var r = LibRbd.AioGetReturnValue(completion);
            LibRbd.AioRelease(completion);
            request.Complete(r);
        }
        catch (Exception)
        {
            // An exception must never unwind into librbd's completion thread.
        }
    }

    [UnmanagedCallersOnly]
    private static int OnDiffExtent(ulong offset, nuint length, int exists, IntPtr argument)
    {
        try
        {
            var collector = (DiffCollector)GCHandle.FromIntPtr(argument).Target!;
            collector.Add(new RbdDiffIterateExtent(checked((long)offset), checked((long)length), exists != 0));
            return 0;
        }
        catch (Exception e)
        {
            try
            {
                ((DiffCollector)GCHandle.FromIntPtr(argument).Target!).Fail(e);
            }
            catch (Exception)
            {
                // Nothing more can be done on a native thread.
            }
            return -LinuxErrno.Eio;
        }
    }

    private void Check(int result, string call)
    {
        if (result < 0)
        {
            throw new RbdException(call.Contains('(', StringComparison.Ordinal) ? call : $"{call}({Spec})", result);
        }
    }

    private static string CString(ReadOnlySpan<byte> buffer)
    {
        var end = buffer.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? buffer : buffer[..end]);
    }

    private static List<string> SplitValues(ReadOnlySpan<byte> buffer, int count)
    {
        // Values may be empty strings, so split exactly count NUL-terminated strings.
        var result = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            var end = buffer.IndexOf((byte)0);
            if (end < 0)
            {
                end = buffer.Length;
            }
            result.Add(Encoding.UTF8.GetString(buffer[..end]));
            buffer = end < buffer.Length ? buffer[(end + 1)..] : [];
        }
        return result;
    }

    private enum AioKind
    {
        Read,
        Write,
        WriteZeroes,
        Discard,
        Flush,
    }

    /// <summary>One AIO in flight: keeps its buffer pinned until librbd completes it.</summary>
    private sealed class AioRequest(MemoryHandle pin, string call)
    {
        private readonly TaskCompletionSource<long> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private MemoryHandle _pin = pin;

        public Task<long> Task => _completion.Task;

        public void Complete(long result)
        {
            _pin.Dispose();
            if (result < 0)
            {
                _completion.TrySetException(new RbdException(call, (int)result));
            }
            else
            {
                _completion.TrySetResult(result);
            }
        }
    }

    private sealed class DiffCollector
    {
        private readonly Lock _lock = new();
        private Exception? _failure;

        public List<RbdDiffIterateExtent> Extents { get; } = [];

        public void Add(RbdDiffIterateExtent extent)
        {
            lock (_lock)
            {
                Extents.Add(extent);
            }
        }

        public void Fail(Exception e) => _failure ??= e;

        public void ThrowIfFailed()
        {
            if (_failure is not null)
            {
                ExceptionDispatchInfoThrow(_failure);
            }
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void ExceptionDispatchInfoThrow(Exception e) => System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
    }
}

/// <summary>Drops an image handle's reference once an AIO has completed (outside the unsafe context, so it may await).</summary>
internal static class AioReference
{
    public static async Task<long> ReleaseAfterAsync(SafeHandle handle, Task<long> operation)
    {
        try
        {
            return await operation.ConfigureAwait(false);
        }
        finally
        {
            handle.DangerousRelease();
        }
    }
}
