using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DeltaSnap.Devices;

/// <summary>
/// A regular file (an image) or a raw block device. On Linux it reports holes with
/// <c>SEEK_DATA</c>/<c>SEEK_HOLE</c> and unmaps with <c>fallocate(PUNCH_HOLE)</c>, falling back to
/// writing zeros where the file system or device cannot punch.
/// </summary>
/// <remarks>
/// A read-only image on a local Linux file system (ext4, XFS, Btrfs, tmpfs, F2FS) is read by the checksum scan
/// (<see cref="Checksums.ClusterChecksums.ComputeAsync"/>) straight from a memory map of the page cache, under a read
/// lease (<c>fcntl(F_SETLEASE)</c>), which the kernel grants only while no process has the file open for writing and
/// which makes another process that opens it for writing or truncates it wait until the scan has stopped reading
/// through the map (its next piece, well under a millisecond); the scan then carries on with <c>pread</c>. Where no
/// lease can be had (the file is open for writing, the process neither owns it nor has <c>CAP_LEASE</c>, another file
/// system) the scan reads with <c>pread</c>.
/// </remarks>
public sealed class FileBlockDevice : BlockDevice
{
    private readonly SafeFileHandle _handle;
    private readonly bool _isBlockDevice;
    private readonly FileReadLease? _lease;
    private long _length;
    private bool _canPunch = OperatingSystem.IsLinux();
    private bool _canSeekHoles = OperatingSystem.IsLinux();

    private FileBlockDevice(string path, SafeFileHandle handle, bool readOnly, bool isBlockDevice, long length)
    {
        Path = path;
        _handle = handle;
        IsReadOnly = readOnly;
        _isBlockDevice = isBlockDevice;
        _length = length;
        if (readOnly && !isBlockDevice && OperatingSystem.IsLinux() && FileReadLease.IsLocalFileSystem(handle))
        {
            _lease = new FileReadLease(handle, length);
        }
    }

    /// <summary>The path the device was opened from.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public override long Length => Volatile.Read(ref _length);

    /// <inheritdoc />
    public override bool IsReadOnly { get; }

    /// <inheritdoc />
    public override bool CanReportAllocation => _canSeekHoles && !_isBlockDevice;

    /// <inheritdoc />
    public override bool CanResize => !_isBlockDevice && !IsReadOnly;

    /// <summary>Opens an existing image file or block device.</summary>
    /// <exception cref="FileNotFoundException">The path does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The path cannot be opened as asked.</exception>
    public static FileBlockDevice Open(string path, bool readOnly = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var handle = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite,
            readOnly ? FileShare.ReadWrite : FileShare.Read, FileOptions.Asynchronous);
        // fstat reports size 0 for a block device; lseek(SEEK_END) reports its real size.
        var length = RandomAccess.GetLength(handle);
        var isBlockDevice = false;
        if (length == 0 && OperatingSystem.IsLinux())
        {
            var end = NativeMethods.LSeek(handle, 0, NativeMethods.SeekEnd);
            if (end > 0)
            {
                length = end;
                isBlockDevice = true;
            }
        }
        return new FileBlockDevice(path, handle, readOnly, isBlockDevice, length);
    }

    /// <summary>Creates (or truncates) a sparse image file of <paramref name="length"/> bytes.</summary>
    public static FileBlockDevice Create(string path, long length)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ThrowHelper.ThrowIfNegative(length);
        var handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read, FileOptions.Asynchronous);
        RandomAccess.SetLength(handle, length);
        return new FileBlockDevice(path, handle, false, false, length);
    }

    /// <inheritdoc />
    protected override async ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            var n = await RandomAccess.ReadAsync(_handle, buffer, offset, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new EndOfStreamException($"{Path} ended at byte {offset}, before its expected length of {Length}.");
            }
            buffer = buffer[n..];
            offset += n;
        }
    }

    /// <inheritdoc />
    internal override bool CanReadSynchronously => true;

    /// <inheritdoc />
    private protected override void ReadSynchronouslyCore(long offset, Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var n = RandomAccess.Read(_handle, buffer, offset);
            if (n == 0)
            {
                throw new EndOfStreamException($"{Path} ended at byte {offset}, before its expected length of {Length}.");
            }
            buffer = buffer[n..];
            offset += n;
        }
    }

    /// <inheritdoc />
    internal override MappedReads? OpenMappedReads()
    {
        CheckDisposed();
        return _lease is not null && _lease.TryOpenView() ? new MappedReads(_lease, _handle, _length) : null;
    }

    /// <inheritdoc />
    protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        RandomAccess.WriteAsync(_handle, data, offset, cancellationToken);

    /// <inheritdoc />
    protected override ValueTask UnmapCoreAsync(ByteRange range, CancellationToken cancellationToken)
    {
        if (_canPunch)
        {
            if (NativeMethods.FAllocate(_handle, NativeMethods.FallocPunchHole | NativeMethods.FallocKeepSize, range.Offset, range.Length) == 0)
            {
                return ValueTask.CompletedTask;
            }
            var errno = Marshal.GetLastPInvokeError();
            if (errno is not (NativeMethods.Eopnotsupp or NativeMethods.Einval))
            {
                throw new IOException($"Cannot punch a hole at {range} in {Path} (errno {errno}).");
            }
            _canPunch = false;
        }
        return base.UnmapCoreAsync(range, cancellationToken);
    }

    /// <inheritdoc />
    protected override Task FlushCoreAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        RandomAccess.FlushToDisk(_handle);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    protected override Task SetLengthCoreAsync(long length, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        RandomAccess.SetLength(_handle, length);
        Volatile.Write(ref _length, length);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    protected override async IAsyncEnumerable<ByteRange> GetAllocatedRangesCoreAsync(
        ByteRange range, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (!CanReportAllocation)
        {
            await foreach (var r in base.GetAllocatedRangesCoreAsync(range, cancellationToken).ConfigureAwait(false))
            {
                yield return r;
            }
            yield break;
        }
        var position = range.Offset;
        while (position < range.End)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var dataStart = NativeMethods.LSeek(_handle, position, NativeMethods.SeekData);
            if (dataStart < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == NativeMethods.Enxio)
                {
                    yield break; // No data after position.
                }
                if (errno is NativeMethods.Einval or NativeMethods.Eopnotsupp && position == range.Offset)
                {
                    _canSeekHoles = false;
                    yield return range;
                    yield break;
                }
                throw new IOException($"SEEK_DATA failed on {Path} at {position} (errno {errno}).");
            }
            if (dataStart >= range.End)
            {
                yield break;
            }
            var holeStart = NativeMethods.LSeek(_handle, dataStart, NativeMethods.SeekHole);
            if (holeStart < 0)
            {
                throw new IOException($"SEEK_HOLE failed on {Path} at {dataStart} (errno {Marshal.GetLastPInvokeError()}).");
            }
            var end = Math.Min(holeStart, range.End);
            yield return ByteRange.FromBounds(dataStart, end);
            position = end;
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _handle.Dispose();
        }
        base.Dispose(disposing);
    }
}
