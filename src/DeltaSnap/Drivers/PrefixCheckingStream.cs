using System.IO.Hashing;

namespace DeltaSnap.Drivers;

/// <summary>
/// A write-only stream for <see cref="Volume.SendAfterPrefixAsync"/>: hashes the first bytes written to it (XXH128,
/// seed 0) instead of passing them on, compares the digest once they are all there, and passes on the rest only when
/// it matched; a mismatch fails the write that completes the prefix, which stops the send.
/// </summary>
internal sealed class PrefixCheckingStream(Stream inner, long prefixLength, UInt128 prefixDigest) : ForwardingWriteStream(inner)
{
    private readonly XxHash128 _hash = new();
    private long _remaining = prefixLength;

    /// <summary>Whether the whole prefix went by and matched (true at once for an empty prefix).</summary>
    public bool Matched { get; private set; } = prefixLength == 0;

    /// <summary>Whether the whole prefix went by and differed (the send was stopped).</summary>
    public bool Mismatched { get; private set; }

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count)
    {
        var rest = Check(buffer.AsSpan(offset, count));
        if (rest > 0)
        {
            Inner.Write(buffer, offset + count - rest, rest);
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var rest = Check(buffer);
        if (rest > 0)
        {
            Inner.Write(buffer[^rest..]);
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int rest;
        try
        {
            rest = Check(buffer.Span);
        }
        catch (PrefixMismatchException e)
        {
            return ValueTask.FromException(e);
        }
        return rest > 0 ? Inner.WriteAsync(buffer[^rest..], cancellationToken) : ValueTask.CompletedTask;
    }

    /// <summary>Takes what belongs to the prefix; returns how many bytes at the end of <paramref name="buffer"/> are past it.</summary>
    /// <exception cref="PrefixMismatchException">The prefix is complete and its digest differs.</exception>
    private int Check(ReadOnlySpan<byte> buffer)
    {
        if (_remaining == 0)
        {
            return buffer.Length;
        }
        var take = (int)Math.Min(_remaining, buffer.Length);
        _hash.Append(buffer[..take]);
        _remaining -= take;
        if (_remaining == 0)
        {
            if (_hash.GetCurrentHashAsUInt128() != prefixDigest)
            {
                Mismatched = true;
                throw new PrefixMismatchException();
            }
            Matched = true;
        }
        return buffer.Length - take;
    }
}

/// <summary>The stream's first bytes differ from the prefix to skip (stops the send; <see cref="Volume.SendAfterPrefixAsync"/> returns false).</summary>
internal sealed class PrefixMismatchException : DeltaSnapException
{
    public PrefixMismatchException()
        : base("The native stream's first bytes differ from the prefix the receiving side holds.")
    {
    }

    public PrefixMismatchException(string message)
        : base(message)
    {
    }

    public PrefixMismatchException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
