// A console tool's benchmark: there is no synchronization context to avoid, and ConfigureAwait on every line would hide the steps.
#pragma warning disable CA2007

using DeltaSnap.Drivers;

namespace DeltaSnap.RefreshBenchmarks;

/// <summary>One write of <see cref="VolumeData"/>: <see cref="Bytes"/> at <see cref="Offset"/> of the data.</summary>
/// <param name="Offset">Where, in the data's one address space (file after file, or the device).</param>
/// <param name="Bytes">What (a writer may reuse the buffer once the write is consumed).</param>
public readonly record struct DataWrite(long Offset, ReadOnlyMemory<byte> Bytes);

/// <summary>
/// The data of a benchmark on its source volume, and how a change rewrites it: files of one size under a file system
/// volume's path, or the live device of a block volume, seen as one address space of <see cref="Size"/> bytes (file
/// after file). Shared by the paired harnesses (<see cref="NativeRefreshBenchmark{TResult}"/>) and the matrix report.
/// </summary>
public abstract class VolumeData
{
    private const int ChunkSize = 4 << 20;

    private protected VolumeData(long size) => Size = size;

    /// <summary>The data size (appends go after it and do not move it).</summary>
    public long Size { get; }

    /// <summary>
    /// Writes <paramref name="size"/> bytes of random data to <paramref name="source"/>: in files of
    /// <paramref name="fileSize"/> under its path on a file system volume, through its device on a block volume.
    /// </summary>
    public static async Task<VolumeData> WriteAsync(Volume source, long size, int fileSize, Random random, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(random);
        var data = await OpenAsync(source, size, fileSize, cancellationToken);
        var buffer = new byte[Math.Min(ChunkSize, fileSize)];
        await data.WriteAsync(Chunks(), cancellationToken);
        return data;

        IEnumerable<DataWrite> Chunks()
        {
            for (long offset = 0; offset < size; offset += buffer.Length)
            {
                random.NextBytes(buffer);
                yield return new DataWrite(offset, buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - offset)));
            }
        }
    }

    /// <summary>The data <see cref="WriteAsync(Volume, long, int, Random, CancellationToken)"/> wrote to <paramref name="source"/> (for a volume opened again).</summary>
    public static async Task<VolumeData> OpenAsync(Volume source, long size, int fileSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source.Kind == VolumeKind.Block
            ? new DeviceData(source, size)
            : new FileData(await source.GetPathAsync(null, cancellationToken), size, fileSize);
    }

    /// <summary>Writes <paramref name="writes"/> in order (each inside the data) and flushes.</summary>
    public abstract Task WriteAsync(IEnumerable<DataWrite> writes, CancellationToken cancellationToken);

    /// <summary>Reads the whole data in chunks of <paramref name="chunkSize"/>, lets <paramref name="change"/> modify each (given its offset), and writes every chunk back where it was.</summary>
    public abstract Task RewriteAsync(int chunkSize, Action<long, Memory<byte>> change, CancellationToken cancellationToken);

    /// <summary>Writes <paramref name="bytes"/> bytes of random data after the end of the data (spread over the files, or after it on the device).</summary>
    public abstract Task AppendAsync(long bytes, Random random, CancellationToken cancellationToken);

    /// <summary>Rewrites each of <paramref name="pieces"/> (indexes of <paramref name="pieceSize"/>-byte pieces of the data) with random bytes; returns the bytes rewritten.</summary>
    public async Task<long> ChangeAsync(IReadOnlyList<long> pieces, int pieceSize, Random random, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pieces);
        ArgumentNullException.ThrowIfNull(random);
        var piece = new byte[pieceSize];
        await WriteAsync(pieces.Select(p =>
        {
            random.NextBytes(piece);
            return new DataWrite(p * pieceSize, piece);
        }), cancellationToken);
        return (long)pieces.Count * pieceSize;
    }

    /// <summary><paramref name="percent"/> percent of <paramref name="count"/> pieces (at least one), chosen at random, in order.</summary>
    public static List<long> PickPieces(long count, double percent, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var wanted = Math.Clamp((long)Math.Round(count * percent / 100), 1, count);
        var chosen = new HashSet<long>();
        while (chosen.Count < wanted)
        {
            chosen.Add(random.NextInt64(count));
        }
        return [.. chosen.Order()];
    }

    /// <summary>Files of one size under a file system volume's path.</summary>
    private sealed class FileData(string root, long size, int fileSize) : VolumeData(size)
    {
        private int FileCount => (int)((Size + fileSize - 1) / fileSize);

        private string FilePath(long index) => Path.Combine(root, $"file{index:D5}.bin");

        public override async Task WriteAsync(IEnumerable<DataWrite> writes, CancellationToken cancellationToken)
        {
            long openIndex = -1;
            FileStream? stream = null;
            try
            {
                foreach (var write in writes)
                {
                    for (var done = 0; done < write.Bytes.Length;)
                    {
                        var offset = write.Offset + done;
                        var index = offset / fileSize;
                        if (index != openIndex)
                        {
                            if (stream is not null)
                            {
                                await stream.DisposeAsync();
                            }
                            stream = new FileStream(FilePath(index), FileMode.OpenOrCreate, FileAccess.Write, FileShare.None, 1 << 16);
                            openIndex = index;
                        }
                        var length = (int)Math.Min(write.Bytes.Length - done, fileSize - (offset % fileSize));
                        stream!.Position = offset % fileSize;
                        await stream.WriteAsync(write.Bytes.Slice(done, length), cancellationToken);
                        done += length;
                    }
                }
            }
            finally
            {
                if (stream is not null)
                {
                    await stream.DisposeAsync();
                }
            }
        }

        public override async Task RewriteAsync(int chunkSize, Action<long, Memory<byte>> change, CancellationToken cancellationToken)
        {
            var buffer = new byte[Math.Min(chunkSize, fileSize)];
            for (var i = 0; i < FileCount; i++)
            {
                await using var stream = new FileStream(FilePath(i), FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1 << 16);
                var length = Math.Min(fileSize, Size - ((long)i * fileSize));
                for (long position = 0; position < length; position += buffer.Length)
                {
                    var chunk = buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - position));
                    stream.Position = position;
                    await stream.ReadExactlyAsync(chunk, cancellationToken);
                    change(((long)i * fileSize) + position, chunk);
                    stream.Position = position;
                    await stream.WriteAsync(chunk, cancellationToken);
                }
            }
        }

        public override async Task AppendAsync(long bytes, Random random, CancellationToken cancellationToken)
        {
            var count = FileCount;
            for (var i = 0; i < count; i++)
            {
                var share = (bytes / count) + (i < bytes % count ? 1 : 0);
                var buffer = new byte[share];
                random.NextBytes(buffer);
                await using var stream = new FileStream(FilePath(i), FileMode.Append, FileAccess.Write, FileShare.None, 1 << 16);
                await stream.WriteAsync(buffer, cancellationToken);
            }
        }

        public override string ToString() => $"{FileCount} files";
    }

    /// <summary>The live device of a block volume, written through.</summary>
    private sealed class DeviceData(Volume source, long size) : VolumeData(size)
    {
        public override async Task WriteAsync(IEnumerable<DataWrite> writes, CancellationToken cancellationToken)
        {
            var device = await source.OpenDeviceAsync(null, writable: true, cancellationToken);
            await using (device)
            {
                foreach (var write in writes)
                {
                    await device.WriteAsync(write.Offset, write.Bytes, cancellationToken);
                }
                await device.FlushAsync(cancellationToken);
            }
        }

        public override async Task RewriteAsync(int chunkSize, Action<long, Memory<byte>> change, CancellationToken cancellationToken)
        {
            var device = await source.OpenDeviceAsync(null, writable: true, cancellationToken);
            await using (device)
            {
                var buffer = new byte[chunkSize];
                for (long offset = 0; offset < Size; offset += chunkSize)
                {
                    var chunk = buffer.AsMemory(0, (int)Math.Min(chunkSize, Size - offset));
                    await device.ReadAsync(offset, chunk, cancellationToken);
                    change(offset, chunk);
                    await device.WriteAsync(offset, chunk, cancellationToken);
                }
                await device.FlushAsync(cancellationToken);
            }
        }

        public override Task AppendAsync(long bytes, Random random, CancellationToken cancellationToken)
        {
            var buffer = new byte[Math.Min(ChunkSize, bytes)];
            return WriteAsync(Chunks(), cancellationToken);

            IEnumerable<DataWrite> Chunks()
            {
                for (long done = 0; done < bytes; done += buffer.Length)
                {
                    random.NextBytes(buffer);
                    yield return new DataWrite(Size + done, buffer.AsMemory(0, (int)Math.Min(buffer.Length, bytes - done)));
                }
            }
        }

        public override string ToString() => "through the device";
    }
}
