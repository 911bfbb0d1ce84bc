using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DeltaSnap.Lvol;

/// <summary>
/// Large data writes into the store file that bypass the page cache (Linux <c>O_DIRECT</c>, a second descriptor of the
/// same file). A receive writes gigabytes it will not read back soon; through the page cache each of its pages is
/// allocated and copied by the kernel, which cost the receiving side of a 4 GiB transfer about 6 s of CPU on the
/// benchmark machine (a virtual machine, where a fresh page is dear), more than the TLS decryption and the rest of the
/// receive together. Only whole, 4 KiB-aligned writes of at least <see cref="MinimumLength"/> bytes go this way (others,
/// and metadata, stay buffered); the kernel keeps the two views coherent (a direct write writes back and drops cached
/// pages of its range), and durability is unchanged: <c>fsync</c> of the store file covers both.
/// Best effort: where the file system refuses <c>O_DIRECT</c> (at open or at the first write), every write is buffered.
/// </summary>
internal sealed partial class DirectDataWriter : IDisposable
{
    /// <summary>Writes shorter than this stay buffered (a small write that waited for the device would cost more than its copy).</summary>
    public const int MinimumLength = 256 << 10;

    private const int Alignment = LvolStore.BlockSize;
    private const int WriteOnly = 1;
    private const int CloseOnExec = 0x80000;
    private const int InvalidArgument = 22;
    private const int Interrupted = 4;

    private readonly SafeFileHandle _handle;
    private readonly ConcurrentBag<AlignedBuffer> _buffers = [];
    private volatile bool _refused;
    private long _bytesWritten;

    private DirectDataWriter(SafeFileHandle handle) => _handle = handle;

    /// <summary>Bytes written past the page cache so far.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    /// <summary>Whether writes still go past the page cache (false once the file system refused a direct write).</summary>
    public bool Active => !_refused;

    /// <summary>Opens <paramref name="path"/> for direct writes; null where this is not 64-bit Linux or the file system refuses <c>O_DIRECT</c>.</summary>
    public static DirectDataWriter? TryOpen(string path)
    {
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess)
        {
            return null;
        }
        var direct = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 0x4000,
            Architecture.Arm64 => 0x10000,
            _ => 0,
        };
        if (direct == 0)
        {
            return null;
        }
        try
        {
            var fd = Open(path, WriteOnly | CloseOnExec | direct);
            return fd < 0 ? null : new DirectDataWriter(new SafeFileHandle(fd, ownsHandle: true));
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Writes <paramref name="data"/> at <paramref name="fileOffset"/> past the page cache when it qualifies (long enough,
    /// whole aligned blocks); returns how many of its first bytes it wrote: all of them, or fewer (usually none) when the
    /// caller must write the rest buffered.
    /// </summary>
    /// <exception cref="IOException">The write failed (other than by refusing direct I/O).</exception>
    public int Write(ReadOnlySpan<byte> data, long fileOffset)
    {
        if (_refused || data.Length < MinimumLength || data.Length % Alignment != 0 || fileOffset % Alignment != 0)
        {
            return 0;
        }
        if (IsAligned(data))
        {
            return WriteAligned(data, fileOffset);
        }
        // The caller's buffer is not on a block boundary: through an aligned one (a copy in memory is far cheaper than the page cache's).
        if (!_buffers.TryTake(out var buffer) || buffer.Length < data.Length)
        {
            buffer = new AlignedBuffer(Math.Max(data.Length, 1 << 20));
        }
        try
        {
            var aligned = buffer.Span[..data.Length];
            data.CopyTo(aligned);
            return WriteAligned(aligned, fileOffset);
        }
        finally
        {
            if (_buffers.Count < 4)
            {
                _buffers.Add(buffer);
            }
        }
    }

    private unsafe int WriteAligned(ReadOnlySpan<byte> data, long fileOffset)
    {
        var written = 0;
        fixed (byte* start = data)
        {
            while (written < data.Length)
            {
                var n = PWrite(_handle, start + written, (nuint)(data.Length - written), fileOffset + written);
                if (n > 0)
                {
                    written += (int)n;
                    if ((written % Alignment) != 0)
                    {
                        break; // A short write off a block boundary (not seen in practice): the rest goes buffered.
                    }
                    continue;
                }
                var errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
                if (errno == Interrupted)
                {
                    continue;
                }
                if (errno == InvalidArgument && written == 0)
                {
                    // The file system takes O_DIRECT at open but not these writes (alignment rules of its own): buffered from now on.
                    _refused = true;
                    return 0;
                }
                throw new IOException(n == 0 ? "A direct write wrote nothing." : Marshal.GetPInvokeErrorMessage(errno), errno);
            }
        }
        Interlocked.Add(ref _bytesWritten, written);
        return written;
    }

    private static unsafe bool IsAligned(ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            return ((nuint)p % Alignment) == 0;
        }
    }

    public void Dispose() => _handle.Dispose();

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    private static unsafe partial nint PWrite(SafeFileHandle fd, byte* buffer, nuint count, long offset);

    /// <summary>A buffer on a 4 KiB boundary: a slice of an array on the pinned object heap (it never moves).</summary>
    internal sealed class AlignedBuffer
    {
        private readonly byte[] _array;
        private readonly int _start;

        public unsafe AlignedBuffer(int length)
        {
            _array = GC.AllocateUninitializedArray<byte>(length + Alignment, pinned: true);
            fixed (byte* p = _array)
            {
                _start = (int)((Alignment - ((nuint)p % Alignment)) % Alignment);
            }
            Length = length;
        }

        public int Length { get; }

        public Span<byte> Span => _array.AsSpan(_start, Length);

        public Memory<byte> Memory => _array.AsMemory(_start, Length);
    }
}
