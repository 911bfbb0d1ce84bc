namespace DeltaSnap.Lvol;

/// <summary>
/// Cuts a byte stream into consecutive JSON values, as SPDK's JSON-RPC server reads its socket: no length prefix,
/// no delimiter, whitespace (newlines included) allowed between values. Shared by <see cref="SpdkRpcClient"/> and
/// the server's connections.
/// </summary>
/// <remarks>
/// The scan is incremental: each byte is looked at once, however the value arrives in pieces (a re-scan from the
/// start on every read would cost quadratic time on a large request sent slowly). The buffer never grows beyond
/// <c>maxValueBytes</c>; a value that does not fit makes <see cref="Overflowed"/> true. Nesting deeper than
/// <c>maxDepth</c> is <see cref="Result.Malformed"/>. The value's grammar is checked by the JSON parser that
/// reads it afterwards; the framer only finds where it ends.
/// </remarks>
internal sealed class JsonValueFramer
{
    private const int InitialBufferBytes = 16 * 1024;

    private readonly int _maxValueBytes;
    private readonly int _maxDepth;
    private byte[] _buffer;
    private int _start;
    private int _end;

    // The scan of the value that starts at _start.
    private bool _inValue;
    private int _scanned;
    private int _depth;
    private bool _inString;
    private bool _escaped;

    /// <summary>Creates a framer.</summary>
    /// <param name="maxValueBytes">The longest value accepted, in bytes; also the most bytes ever buffered.</param>
    /// <param name="maxDepth">The deepest nesting of objects and arrays accepted.</param>
    public JsonValueFramer(int maxValueBytes, int maxDepth = 64)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxValueBytes, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDepth, 1);
        _maxValueBytes = maxValueBytes;
        _maxDepth = maxDepth;
        _buffer = new byte[Math.Min(InitialBufferBytes, maxValueBytes)];
    }

    /// <summary>The outcome of <see cref="TryTake"/>.</summary>
    public enum Result
    {
        /// <summary>A whole value was taken.</summary>
        Value,

        /// <summary>More bytes are needed.</summary>
        NeedMore,

        /// <summary>The bytes cannot start or continue a JSON value (or nest too deep); everything held was dropped.</summary>
        Malformed,
    }

    /// <summary>The bytes held (the unfinished value and any whitespace before it).</summary>
    public int BufferedBytes => _end - _start;

    /// <summary>The size of the buffer (what the framer holds in memory).</summary>
    public int Capacity => _buffer.Length;

    /// <summary>Whether the unfinished value held already reached the largest value accepted: no more bytes fit.</summary>
    public bool Overflowed => _end - _start >= _maxValueBytes;

    /// <summary>Whether only whitespace is held.</summary>
    public bool IsEmpty
    {
        get
        {
            if (!_inValue)
            {
                SkipWhitespace();
            }
            return _start == _end;
        }
    }

    /// <summary>The space to read into next; empty only when <see cref="Overflowed"/>.</summary>
    public Memory<byte> GetWriteBuffer()
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        if (_end == _buffer.Length)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            else if (_buffer.Length < _maxValueBytes)
            {
                Array.Resize(ref _buffer, (int)Math.Min((long)_buffer.Length * 2, _maxValueBytes));
            }
        }
        return _buffer.AsMemory(_end, Math.Min(_buffer.Length - _end, _maxValueBytes - (_end - _start)));
    }

    /// <summary>Records that <paramref name="count"/> bytes were read into <see cref="GetWriteBuffer"/>.</summary>
    public void Advance(int count) => _end += count;

    /// <summary>Takes the next complete value, if the bytes hold one.</summary>
    public Result TryTake(out ReadOnlyMemory<byte> value)
    {
        value = default;
        if (!_inValue)
        {
            SkipWhitespace();
            if (_start == _end)
            {
                return Result.NeedMore;
            }
            _inValue = true;
            _scanned = 1;
            switch (_buffer[_start])
            {
                case (byte)'{' or (byte)'[':
                    _depth = 1;
                    break;
                case (byte)'"':
                    _inString = true;
                    break;
                case (byte)'}' or (byte)']' or (byte)',' or (byte)':':
                    Clear();
                    return Result.Malformed;
                default:
                    // A number or a literal: it ends at the first byte that cannot continue it.
                    break;
            }
        }
        for (var i = _start + _scanned; i < _end; i++)
        {
            var b = _buffer[i];
            if (_inString)
            {
                if (_escaped)
                {
                    _escaped = false;
                }
                else if (b == (byte)'\\')
                {
                    _escaped = true;
                }
                else if (b == (byte)'"')
                {
                    _inString = false;
                    if (_depth == 0)
                    {
                        return Take(i + 1, out value);
                    }
                }
                continue;
            }
            if (_depth == 0)
            {
                // A bare number or literal.
                if (b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or (byte)'{' or (byte)'[' or (byte)'}' or (byte)']' or (byte)',' or (byte)'"' or (byte)':')
                {
                    return Take(i, out value);
                }
                continue;
            }
            switch (b)
            {
                case (byte)'"':
                    _inString = true;
                    break;
                case (byte)'{' or (byte)'[':
                    if (++_depth > _maxDepth)
                    {
                        Clear();
                        return Result.Malformed;
                    }
                    break;
                case (byte)'}' or (byte)']':
                    if (--_depth == 0)
                    {
                        return Take(i + 1, out value);
                    }
                    break;
            }
        }
        _scanned = _end - _start;
        return Result.NeedMore;
    }

    /// <summary>Drops everything held.</summary>
    public void Clear()
    {
        _start = _end = 0;
        ResetScan();
    }

    private Result Take(int end, out ReadOnlyMemory<byte> value)
    {
        value = _buffer.AsMemory(_start, end - _start).ToArray();
        _start = end;
        ResetScan();
        return Result.Value;
    }

    private void ResetScan()
    {
        _inValue = false;
        _scanned = 0;
        _depth = 0;
        _inString = false;
        _escaped = false;
    }

    private void SkipWhitespace()
    {
        while (_start < _end && _buffer[_start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            _start++;
        }
    }
}
