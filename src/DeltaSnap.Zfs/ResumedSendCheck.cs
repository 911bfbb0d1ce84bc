namespace DeltaSnap.Zfs;

/// <summary>
/// Passes a resumed <c>zfs send -t TOKEN</c> stream on only once its BEGIN record names the snapshot the send was asked
/// for. The token, not the command line, decides what <c>zfs send -t</c> sends, and a token comes from the receiving
/// side, which may be a peer. Unchecked, a peer allowed to read one volume could name a snapshot of any dataset of the
/// pool in a token of its own making. The first record is held back until it is checked; a stream of another snapshot
/// throws before a byte of it reaches the destination, and the runner then kills <c>zfs send</c>.
/// </summary>
internal sealed class ResumedSendCheck : Stream
{
    private readonly Stream _destination;
    private readonly string _expected;
    private readonly byte[] _first = new byte[ZfsStreamHeader.RecordSize];
    private int _held;
    private string? _refusal;

    /// <param name="destination">Where the checked stream goes.</param>
    /// <param name="expected">The full name (<c>pool/dataset@snapshot</c>) the BEGIN record must carry.</param>
    public ResumedSendCheck(Stream destination, string expected)
    {
        _destination = destination;
        _expected = expected;
    }

    /// <summary>Whether the BEGIN record was read and matched.</summary>
    public bool Checked => _held == _first.Length;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Throws when the stream ended before its BEGIN record was complete, or named another snapshot.</summary>
    /// <exception cref="CorruptDataException">Fewer bytes than one record were sent.</exception>
    /// <exception cref="UnauthorizedAccessException">The record named another snapshot.</exception>
    public void Complete()
    {
        if (_refusal is not null)
        {
            throw new UnauthorizedAccessException(_refusal);
        }
        if (!Checked)
        {
            throw new CorruptDataException($"zfs send -t ended after {_held} bytes, before the BEGIN record of {_expected} was complete.");
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var (completed, taken) = Hold(buffer);
        if (completed)
        {
            _destination.Write(_first);
        }
        if (taken < buffer.Length)
        {
            _destination.Write(buffer[taken..]);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var (completed, taken) = Hold(buffer.Span);
        if (completed)
        {
            await _destination.WriteAsync(_first, cancellationToken).ConfigureAwait(false);
        }
        if (taken < buffer.Length)
        {
            await _destination.WriteAsync(buffer[taken..], cancellationToken).ConfigureAwait(false);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => _destination.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _destination.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>
    /// Takes what belongs to the first record (all of <paramref name="buffer"/> once the record is checked: none).
    /// Returns whether this call completed and checked the record, which the caller then writes on first, and how many
    /// bytes of <paramref name="buffer"/> were taken.
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">The record names another snapshot (then and on every later write).</exception>
    private (bool Completed, int Taken) Hold(ReadOnlySpan<byte> buffer)
    {
        if (_refusal is not null)
        {
            throw new UnauthorizedAccessException(_refusal);
        }
        if (Checked)
        {
            return (false, 0);
        }
        var take = Math.Min(buffer.Length, _first.Length - _held);
        buffer[..take].CopyTo(_first.AsSpan(_held));
        _held += take;
        if (!Checked)
        {
            return (false, take);
        }
        var header = ZfsStreamHeader.Parse(_first);
        if (header.ToName != _expected)
        {
            _refusal = $"zfs send -t sent {header.ToName}, not the requested {_expected}: the resume token names another snapshot. Nothing was sent.";
            throw new UnauthorizedAccessException(_refusal);
        }
        return (true, take);
    }
}
