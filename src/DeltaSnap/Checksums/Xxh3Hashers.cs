using System.Buffers.Binary;

namespace DeltaSnap.Checksums;

/// <summary>
/// The running state of an incremental XXH3 (64 or 128 bit: they share the long-input accumulator and differ
/// only in the final merge). Gives exactly the one-shot <see cref="Xxh3"/> result however the input is split.
/// </summary>
/// <remarks>
/// Inputs up to 256 bytes are only buffered, so inputs up to 240 bytes are hashed by the one-shot short-input
/// code at the end. Beyond that, a stripe is accumulated as soon as at least one byte follows it: the one-shot
/// algorithm accumulates exactly the stripes that have a byte after them, then the last 64 bytes separately.
/// Those last 64 bytes can reach back into stripes already consumed, so the last consumed stripe is kept.
/// </remarks>
internal sealed class Xxh3StreamingState
{
    private const int BufferLength = 256; // a multiple of the stripe length, and at least 240 (XXH3_INTERNALBUFFER_SIZE)

    private readonly Xxh3Vectorization _vectorization;
    private readonly ulong[] _accumulators = new ulong[8];
    private readonly byte[] _buffer = new byte[BufferLength];
    private readonly byte[] _lastConsumedStripe = new byte[Xxh3.StripeLength];
    private int _buffered;
    private int _stripesInBlock;
    private long _totalLength;

    public Xxh3StreamingState(Xxh3Vectorization vectorization)
    {
        _vectorization = vectorization;
        Reset();
    }

    public void Reset()
    {
        Xxh3.InitializeAccumulators(_accumulators);
        _buffered = 0;
        _stripesInBlock = 0;
        _totalLength = 0;
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        _totalLength += data.Length;
        if (data.Length <= BufferLength - _buffered)
        {
            data.CopyTo(_buffer.AsSpan(_buffered));
            _buffered += data.Length;
            return;
        }

        // More than fits: the buffer's stripes all have bytes after them now.
        if (_buffered > 0)
        {
            var fill = BufferLength - _buffered;
            data[..fill].CopyTo(_buffer.AsSpan(_buffered));
            data = data[fill..];
            Xxh3.ConsumeStripes(_accumulators, ref _stripesInBlock, _buffer, BufferLength / Xxh3.StripeLength, _vectorization);
            _buffer.AsSpan(BufferLength - Xxh3.StripeLength).CopyTo(_lastConsumedStripe);
            _buffered = 0;
        }

        // Straight from the caller's memory, keeping 1 to 64 bytes back (data is not empty here).
        if (data.Length > Xxh3.StripeLength)
        {
            var stripes = (data.Length - 1) / Xxh3.StripeLength;
            var consumed = stripes * Xxh3.StripeLength;
            Xxh3.ConsumeStripes(_accumulators, ref _stripesInBlock, data, stripes, _vectorization);
            data.Slice(consumed - Xxh3.StripeLength, Xxh3.StripeLength).CopyTo(_lastConsumedStripe);
            data = data[consumed..];
        }
        data.CopyTo(_buffer);
        _buffered = data.Length;
    }

    public ulong Digest64()
    {
        if (_totalLength <= Xxh3.MidSizeMax)
        {
            return Xxh3.Hash64(_buffer.AsSpan(0, _buffered), _vectorization);
        }
        Span<ulong> accumulators = stackalloc ulong[8];
        FinishAccumulators(accumulators);
        return Xxh3.Merge64(accumulators, _totalLength);
    }

    public UInt128 Digest128()
    {
        if (_totalLength <= Xxh3.MidSizeMax)
        {
            return Xxh3.Hash128(_buffer.AsSpan(0, _buffered), _vectorization);
        }
        Span<ulong> accumulators = stackalloc ulong[8];
        FinishAccumulators(accumulators);
        return Xxh3.Merge128(accumulators, _totalLength);
    }

    /// <summary>Runs the end of the long-input algorithm on a copy, so that appending can continue.</summary>
    private void FinishAccumulators(Span<ulong> accumulators)
    {
        _accumulators.CopyTo(accumulators);
        var stripesInBlock = _stripesInBlock;
        var pending = _buffer.AsSpan(0, _buffered); // 1 to 256 bytes for a long input
        Xxh3.ConsumeStripes(accumulators, ref stripesInBlock, pending, (_buffered - 1) / Xxh3.StripeLength, _vectorization);

        Span<byte> lastStripe = stackalloc byte[Xxh3.StripeLength];
        if (_buffered >= Xxh3.StripeLength)
        {
            pending[^Xxh3.StripeLength..].CopyTo(lastStripe);
        }
        else
        {
            _lastConsumedStripe.AsSpan(_buffered).CopyTo(lastStripe);
            pending.CopyTo(lastStripe[(Xxh3.StripeLength - _buffered)..]);
        }
        Xxh3.AccumulateLastStripe(accumulators, lastStripe, _vectorization);
    }
}

/// <summary>Incremental XXH3-64 (seed 0); the digest is the big-endian canonical form <c>xxhsum -H3</c> prints.</summary>
internal sealed class Xxh3Hasher : ChecksumHasher
{
    private readonly Xxh3StreamingState _state;

    public Xxh3Hasher()
        : this(Xxh3.BestVectorization)
    {
    }

    internal Xxh3Hasher(Xxh3Vectorization vectorization)
        : base(ChecksumAlgorithm.Xxh3) => _state = new Xxh3StreamingState(vectorization);

    protected override void AppendCore(ReadOnlySpan<byte> data) => _state.Append(data);

    protected override void ResetCore() => _state.Reset();

    protected override void GetCurrentHashCore(Span<byte> destination) => BinaryPrimitives.WriteUInt64BigEndian(destination, _state.Digest64());
}

/// <summary>Incremental XXH3-128 (seed 0); the digest is the big-endian canonical form <c>xxhsum -H2</c> prints.</summary>
internal sealed class Xxh128Hasher : ChecksumHasher
{
    private readonly Xxh3StreamingState _state;

    public Xxh128Hasher()
        : this(Xxh3.BestVectorization)
    {
    }

    internal Xxh128Hasher(Xxh3Vectorization vectorization)
        : base(ChecksumAlgorithm.Xxh128) => _state = new Xxh3StreamingState(vectorization);

    protected override void AppendCore(ReadOnlySpan<byte> data) => _state.Append(data);

    protected override void ResetCore() => _state.Reset();

    protected override void GetCurrentHashCore(Span<byte> destination) => BinaryPrimitives.WriteUInt128BigEndian(destination, _state.Digest128());
}
