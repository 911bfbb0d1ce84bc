using Microsoft.Win32.SafeHandles;

namespace DeltaSnap.Devices;

/// <summary>
/// A Linux read lease (<c>fcntl(F_SETLEASE, F_RDLCK)</c>) on a read-only image file, which makes reading it through a
/// shared memory map safe: while the lease is held no process can truncate the file or open it for writing (the kernel
/// makes it wait for the holder), so no page of the map can fall beyond the end of the file (a <c>SIGBUS</c>, which
/// would end the process). Shared by the <see cref="MappedReads"/> of one device.
/// </summary>
/// <remarks>
/// <para>The kernel grants the lease only when no process has the file open for writing (or mapped writable), to the
/// file's owner or a process with <c>CAP_LEASE</c>; a live volume that something writes therefore never gets one and
/// is read with <c>pread</c>. Only local file systems whose size changes all go through this kernel's VFS are mapped
/// (ext2/3/4, XFS, Btrfs, tmpfs, F2FS): on FUSE, network and overlay file systems the file can change behind a lease.</para>
/// <para>A reader calls <see cref="TryBeginAccess"/> before touching mapped bytes and <see cref="EndAccess"/> after.
/// When another process breaks the lease (opens the file for writing, truncates it), the next <see cref="TryBeginAccess"/>
/// sees the pending break (<c>F_GETLEASE</c> reports the downgrade), refuses, and the lease is given up as soon as no
/// reader is inside the map; the other process then proceeds, and the readers carry on with <c>pread</c> (a file cut
/// short then ends the scan with an <see cref="EndOfStreamException"/>). No signal is taken: the lease's owner is
/// cleared, and <c>F_SETSIG</c> names <c>SIGURG</c> (ignored by default) for the instant before that.</para>
/// <para>What this cannot cover: the kernel revokes an unanswered lease after <c>/proc/sys/fs/lease-break-time</c>
/// seconds (45 by default). A reader stopped inside one piece (at most 1 MiB, a fraction of a millisecond of hashing)
/// for longer than that, while another process truncates the file, would still fault; so leases are not used when that
/// time is below <see cref="MinimumBreakSeconds"/>.</para>
/// </remarks>
internal sealed class FileReadLease
{
    /// <summary>The shortest <c>lease-break-time</c> (seconds) under which maps are used.</summary>
    internal const int MinimumBreakSeconds = 10;

    // f_type of the file systems whose files change size only through this kernel's VFS (which breaks leases).
    private static readonly long[] LocalFileSystems =
    [
        0xEF53, // ext2, ext3, ext4
        0x58465342, // XFS
        0x9123683E, // Btrfs
        0x01021994, // tmpfs
        0xF2F52010, // F2FS
    ];

    private static readonly Lazy<bool> BreakTimeLongEnough = new(ReadBreakTime);

    private readonly SafeFileHandle _handle;
    private readonly long _length;
    private readonly Lock _lock = new();
    private int _views;
    private int _accesses;
    private bool _held;
    private bool _broken;

    public FileReadLease(SafeFileHandle handle, long length)
    {
        _handle = handle;
        _length = length;
    }

    /// <summary>Whether the file system of <paramref name="handle"/> is one whose files can be mapped under a lease.</summary>
    public static unsafe bool IsLocalFileSystem(SafeFileHandle handle)
    {
        var buffer = stackalloc byte[NativeMethods.StatFsSize];
        if (NativeMethods.FStatFs(handle, buffer) != 0)
        {
            return false;
        }
        var type = (long)(*(nint*)buffer) & 0xFFFFFFFFL; // f_type is the first field, a word
        return Array.IndexOf(LocalFileSystems, type) >= 0;
    }

    /// <summary>Registers a reader of the map; takes the lease for the first. False: read with <c>pread</c> instead.</summary>
    public bool TryOpenView()
    {
        lock (_lock)
        {
            if (_views == 0)
            {
                _broken = false;
                TryTake();
            }
            if (!_held || _broken)
            {
                return false;
            }
            var added = false;
            _handle.DangerousAddRef(ref added); // the lease lives on this descriptor: keep it open while mapped
            _views++;
            return true;
        }
    }

    /// <summary>Before touching mapped bytes: false (for good) once the lease is gone or being broken.</summary>
    public bool TryBeginAccess()
    {
        lock (_lock)
        {
            if (_broken)
            {
                return false;
            }
            if (NativeMethods.FcntlInt(_handle, NativeMethods.FGetLease, 0) != NativeMethods.FRdLck)
            {
                _broken = true;
                if (_accesses == 0)
                {
                    Release();
                }
                return false;
            }
            _accesses++;
            return true;
        }
    }

    /// <summary>After touching mapped bytes; the last reader out of a broken lease gives it up.</summary>
    public void EndAccess()
    {
        lock (_lock)
        {
            if (--_accesses == 0 && _broken)
            {
                Release();
            }
        }
    }

    /// <summary>Unregisters a reader (its map already unmapped); the last one gives the lease up.</summary>
    public void CloseView()
    {
        lock (_lock)
        {
            if (--_views == 0)
            {
                Release();
            }
            _handle.DangerousRelease();
        }
    }

    // Takes the lease (sets _held) unless the kernel refuses it or the file is already shorter than the device.
    private void TryTake()
    {
        if (!BreakTimeLongEnough.Value
            || NativeMethods.FcntlInt(_handle, NativeMethods.FSetSig, NativeMethods.SigUrg) != 0
            || NativeMethods.FcntlInt(_handle, NativeMethods.FSetLease, NativeMethods.FRdLck) != 0)
        {
            return;
        }
        _held = true;
        _ = NativeMethods.FcntlInt(_handle, NativeMethods.FSetOwn, 0); // no owner: a lease break sends no signal at all
        // Cut short between the device's opening and the lease: the bytes past the end must not be mapped.
        if (RandomAccess.GetLength(_handle) < _length)
        {
            Release();
        }
    }

    private void Release()
    {
        if (_held)
        {
            _held = false;
            _ = NativeMethods.FcntlInt(_handle, NativeMethods.FSetLease, NativeMethods.FUnlck);
        }
    }

    private static bool ReadBreakTime()
    {
        try
        {
            return int.TryParse(File.ReadAllText("/proc/sys/fs/lease-break-time").Trim(), out var seconds)
                && seconds >= MinimumBreakSeconds;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
