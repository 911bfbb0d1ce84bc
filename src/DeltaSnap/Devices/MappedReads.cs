using Microsoft.Win32.SafeHandles;

namespace DeltaSnap.Devices;

/// <summary>
/// One reader's view of a device's bytes through a shared read-only memory map, without the copy a <c>pread</c> makes
/// from the page cache (for the checksum scan: see <see cref="BlockDevice.OpenMappedReads"/>). It maps a window of
/// <see cref="WindowBytes"/> at a time, and touches mapped bytes only between <see cref="TryBegin"/> and
/// <see cref="End"/>, under the device's <see cref="FileReadLease"/>.
/// </summary>
/// <remarks>
/// Measured (benchmarks/README.md, one core, a page-cached file): hashing straight from the map costs about 0.08 s of
/// CPU per GiB, page faults included, against 0.13 s for <c>pread</c> into a buffer and hashing it.
/// </remarks>
internal sealed class MappedReads : IDisposable
{
    /// <summary>
    /// The size of one mapped window: the most of the file one reader has mapped (and counted in the process's RSS) at a
    /// time. Measured (one core, thread CPU per GiB): 8 MiB windows cost 1 % more than 64 MiB ones, 4 MiB 3.5 %,
    /// 2 MiB 4 %, 1 MiB 70 %.
    /// </summary>
    internal const long WindowBytes = 8L << 20;

    private readonly FileReadLease _lease;
    private readonly SafeFileHandle _handle;
    private readonly long _length;
    private nint _window;
    private long _windowStart;
    private long _windowLength;
    private bool _closed;

    internal MappedReads(FileReadLease lease, SafeFileHandle handle, long length)
    {
        _lease = lease;
        _handle = handle;
        _length = length;
    }

    /// <summary>
    /// The <paramref name="length"/> bytes at <paramref name="offset"/>, valid until <see cref="End"/>. False, for good,
    /// once the map cannot be used (the lease was broken, a map failed): read the bytes with <c>pread</c> instead.
    /// </summary>
    public unsafe bool TryBegin(long offset, int length, out ReadOnlySpan<byte> data)
    {
        data = default;
        if (_closed)
        {
            return false;
        }
        if ((offset < _windowStart || offset + length > _windowStart + _windowLength) && !TryMapWindow(offset, length))
        {
            Dispose();
            return false;
        }
        if (!_lease.TryBeginAccess())
        {
            Dispose();
            return false;
        }
        data = new ReadOnlySpan<byte>((byte*)_window + (offset - _windowStart), length);
        return true;
    }

    /// <summary>Done with the bytes <see cref="TryBegin"/> gave.</summary>
    public void End() => _lease.EndAccess();

    /// <summary>Unmaps the window and leaves the lease.</summary>
    public void Dispose()
    {
        if (!_closed)
        {
            _closed = true;
            Unmap();
            _lease.CloseView();
        }
    }

    private bool TryMapWindow(long offset, int length)
    {
        Unmap();
        var start = offset & ~(long)(Environment.SystemPageSize - 1);
        var size = Math.Max(Math.Min(WindowBytes, _length - start), offset + length - start);
        var window = NativeMethods.MMap(0, (nuint)size, NativeMethods.ProtRead, NativeMethods.MapShared, _handle, start);
        if (window == -1)
        {
            return false;
        }
        _window = window;
        _windowStart = start;
        _windowLength = size;
        return true;
    }

    private void Unmap()
    {
        if (_windowLength > 0)
        {
            _ = NativeMethods.MUnmap(_window, (nuint)_windowLength);
            _window = 0;
            _windowStart = 0;
            _windowLength = 0;
        }
    }
}
