using System.Buffers;
using DeltaSnap.Devices;

namespace DeltaSnap.Delta;

/// <summary>
/// Keeps what a block device held before each range a stream writes or unmaps, in a temporary file, so that a stream
/// rejected at any point (a bad record, a truncation, a trailer or volume checksum that does not match) leaves the
/// device as it was. Memory holds only the list of ranges; the bytes go to the file.
/// </summary>
internal sealed class DeltaStreamUndoJournal(BlockDevice device, string? directory) : DeltaSink, IAsyncDisposable
{
    private const int Chunk = 1 << 20;
    private readonly List<(long Offset, int Length, long JournalOffset, bool Zeros)> _entries = [];
    private FileStream? _file;
    private long _journalLength;

    protected override async ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await SaveAsync(offset, data.Length, cancellationToken).ConfigureAwait(false);
        await device.WriteAsync(offset, data, cancellationToken).ConfigureAwait(false);
    }

    protected override async ValueTask UnmapCoreAsync(ByteRange range, CancellationToken cancellationToken)
    {
        await SaveAsync(range.Offset, range.Length, cancellationToken).ConfigureAwait(false);
        await device.UnmapAsync(range, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask SaveAsync(long offset, long length, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(Chunk, length));
        try
        {
            for (var done = 0L; done < length;)
            {
                var n = (int)Math.Min(buffer.Length, length - done);
                var piece = buffer.AsMemory(0, n);
                await device.ReadAsync(offset + done, piece, cancellationToken).ConfigureAwait(false);
                if (piece.Span.IndexOfAnyExcept((byte)0) < 0)
                {
                    _entries.Add((offset + done, n, -1, true));
                }
                else
                {
                    _file ??= new FileStream(System.IO.Path.Combine(directory ?? System.IO.Path.GetTempPath(), $"deltasnap-undo-{Guid.NewGuid():N}"),
                        FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 0, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
                    await RandomAccess.WriteAsync(_file.SafeFileHandle, piece, _journalLength, cancellationToken).ConfigureAwait(false);
                    _entries.Add((offset + done, n, _journalLength, false));
                    _journalLength += n;
                }
                done += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Puts back what the device held, newest change first, and flushes it.</summary>
    public async Task RollBackAsync()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Chunk);
        try
        {
            for (var i = _entries.Count - 1; i >= 0; i--)
            {
                var (offset, length, journalOffset, zeros) = _entries[i];
                if (zeros)
                {
                    // It read zeros before: unmapping restores that (and frees what the stream allocated).
                    await device.UnmapAsync(new ByteRange(offset, length)).ConfigureAwait(false);
                    continue;
                }
                var piece = buffer.AsMemory(0, length);
                var read = await RandomAccess.ReadAsync(_file!.SafeFileHandle, piece, journalOffset).ConfigureAwait(false);
                if (read != length)
                {
                    throw new IOException($"The undo journal of the delta stream ended early at byte {journalOffset + read}.");
                }
                await device.WriteAsync(offset, piece).ConfigureAwait(false);
            }
            await device.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_file is not null)
        {
            await _file.DisposeAsync().ConfigureAwait(false);
        }
    }
}
