using System.Diagnostics;
using System.Globalization;
using System.IO.Hashing;

namespace DeltaSnap.Replication;

/// <summary>
/// The file a spooled native transfer writes the stream into on the receiving side, with the running XXH128 digest of
/// what it holds: appended to as the stream arrives, synced and recorded in the transfer's checkpoint every checkpoint
/// interval, checked against the checkpoint when a later refresh continues it, and read by the receive once complete.
/// </summary>
internal sealed class NativeStreamSpool : IAsyncDisposable
{
    private const int ChunkSize = 1 << 20;

    private readonly FileStream _file;
    private readonly XxHash128 _hash = new();

    public NativeStreamSpool(string path)
    {
        Path = path;
        _file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous);
    }

    public string Path { get; }

    /// <summary>The bytes of the stream the spool holds (all hashed).</summary>
    public long Length { get; private set; }

    /// <summary>The XXH128 (seed 0) of those bytes.</summary>
    public UInt128 Digest => _hash.GetCurrentHashAsUInt128();

    /// <summary>The bytes appended by this process.</summary>
    public long SentThisRun { get; private set; }

    /// <summary>Formats a digest as the checkpoint records it.</summary>
    public static string Format(UInt128 digest) => digest.ToString("x32", CultureInfo.InvariantCulture);

    /// <summary>
    /// Takes up what an earlier refresh spooled: checks the first <paramref name="recordedBytes"/> against the digest its
    /// checkpoint recorded, then hashes what follows (written after the last save; a kill loses nothing the system had).
    /// Returns null when the spool can be continued, or why it was emptied instead.
    /// </summary>
    public async Task<string?> ContinueAsync(long recordedBytes, string? recordedDigest, CancellationToken cancellationToken)
    {
        var length = _file.Length;
        string? damage = null;
        if (length < recordedBytes)
        {
            damage = $"its spool {Path} holds {length} bytes, fewer than the {recordedBytes} its checkpoint recorded";
        }
        else
        {
            await HashFileAsync(recordedBytes, cancellationToken).ConfigureAwait(false);
            if (recordedBytes > 0 && !string.Equals(Format(Digest), recordedDigest, StringComparison.OrdinalIgnoreCase))
            {
                damage = $"its spool {Path} is damaged: the digest of its first {recordedBytes} bytes is not the one its checkpoint recorded";
            }
            else
            {
                await HashFileAsync(length, cancellationToken).ConfigureAwait(false);
            }
        }
        if (damage is not null)
        {
            await DiscardAsync(cancellationToken).ConfigureAwait(false);
        }
        return damage;
    }

    /// <summary>Empties the spool.</summary>
    public Task DiscardAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _file.SetLength(0);
        _hash.Reset();
        Length = 0;
        return Task.CompletedTask;
    }

    /// <summary>
    /// Appends all of <paramref name="source"/>, hashing it, and calls <paramref name="save"/> every
    /// <paramref name="interval"/> (between two chunks, so what it records is exactly what the spool holds).
    /// </summary>
    public async Task AppendAsync(Stream source, TimeSpan interval, Func<CancellationToken, Task> save, CancellationToken cancellationToken)
    {
        var buffer = new byte[ChunkSize];
        var clock = Stopwatch.StartNew();
        _file.Position = Length;
        for (int n; (n = await source.ReadAtLeastAsync(buffer, ChunkSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false)) > 0;)
        {
            await _file.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            _hash.Append(buffer.AsSpan(0, n));
            Length += n;
            SentThisRun += n;
            if (clock.Elapsed >= interval)
            {
                await save(cancellationToken).ConfigureAwait(false);
                clock.Restart();
            }
        }
    }

    /// <summary>
    /// Makes the spool durable and records it in <paramref name="checkpoint"/>'s file: cut to the bytes hashed (a write
    /// that failed half-way leaves nothing unhashed), synced, then the checkpoint saved with its length and digest.
    /// </summary>
    public async Task SaveAsync(RefreshCheckpoint checkpoint, string directory, bool complete, CancellationToken cancellationToken)
    {
        if (_file.Length != Length)
        {
            _file.SetLength(Length);
        }
        _file.Flush(flushToDisk: true);
        var record = checkpoint with
        {
            SpoolBytes = Length,
            SpoolDigest = Format(Digest),
            SpoolComplete = complete,
            BytesWritten = Length,
            Cursor = Length,
            SavedUtc = DateTimeOffset.UtcNow,
        };
        await record.SaveAsync(directory, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The spooled stream from its start, for the receive (owned by the spool; after a save, the file holds exactly the hashed bytes).</summary>
    public Stream OpenForReceive()
    {
        _file.Position = 0;
        return _file;
    }

    public ValueTask DisposeAsync() => _file.DisposeAsync();

    /// <summary>Hashes the file from <see cref="Length"/> up to <paramref name="end"/>.</summary>
    private async Task HashFileAsync(long end, CancellationToken cancellationToken)
    {
        var buffer = new byte[ChunkSize];
        _file.Position = Length;
        while (Length < end)
        {
            var n = await _file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(ChunkSize, end - Length)), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new DeltaSnapException($"The spool {Path} ended at {Length} bytes while it was read up to {end}.");
            }
            _hash.Append(buffer.AsSpan(0, n));
            Length += n;
        }
    }
}
