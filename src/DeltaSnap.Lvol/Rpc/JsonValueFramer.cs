using System.Text.Json;

namespace DeltaSnap.Lvol;

/// <summary>
/// Cuts a byte stream into consecutive JSON values, as SPDK's JSON-RPC server reads its socket: no length prefix,
/// no delimiter, whitespace (newlines included) allowed between values.
/// </summary>
internal sealed class JsonValueFramer(int maxValueBytes)
{
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    /// <summary>The outcome of <see cref="TryTake"/>.</summary>
    public enum Result
    {
        /// <summary>A whole value was taken.</summary>
        Value,

        /// <summary>More bytes are needed.</summary>
        NeedMore,

        /// <summary>The bytes are not JSON; they were discarded up to the next newline (or all of them).</summary>
        Malformed,
    }

    /// <summary>The space to read into next.</summary>
    public Memory<byte> GetWriteBuffer()
    {
        if (_start > 0 && _start == _end)
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
            else
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }
        }
        return _buffer.AsMemory(_end);
    }

    /// <summary>Records that <paramref name="count"/> bytes were read into <see cref="GetWriteBuffer"/>.</summary>
    public void Advance(int count) => _end += count;

    /// <summary>Whether the bytes held exceed the largest value accepted.</summary>
    public bool Overflowed => _end - _start > maxValueBytes;

    /// <summary>Whether only whitespace is held.</summary>
    public bool IsEmpty
    {
        get
        {
            SkipWhitespace();
            return _start == _end;
        }
    }

    /// <summary>Takes the next complete value, if the bytes hold one.</summary>
    public Result TryTake(out ReadOnlyMemory<byte> value)
    {
        value = default;
        SkipWhitespace();
        if (_start == _end)
        {
            return Result.NeedMore;
        }
        var span = new ReadOnlySpan<byte>(_buffer, _start, _end - _start);
        try
        {
            var reader = new Utf8JsonReader(span, isFinalBlock: false, state: default);
            if (!reader.Read())
            {
                return Result.NeedMore;
            }
            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && !reader.TrySkip())
            {
                return Result.NeedMore;
            }
            var length = (int)reader.BytesConsumed;
            value = _buffer.AsMemory(_start, length).ToArray();
            _start += length;
            return Result.Value;
        }
        catch (JsonException)
        {
            var newline = span.IndexOf((byte)'\n');
            _start = newline < 0 ? _end : _start + newline + 1;
            return Result.Malformed;
        }
    }

    /// <summary>Drops everything held.</summary>
    public void Clear() => _start = _end = 0;

    private void SkipWhitespace()
    {
        while (_start < _end && _buffer[_start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            _start++;
        }
    }
}
