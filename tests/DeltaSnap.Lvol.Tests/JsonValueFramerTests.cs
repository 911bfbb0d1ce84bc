using System.Text;

namespace DeltaSnap.Lvol.Tests;

public sealed class JsonValueFramerTests
{
    private static List<string> Feed(JsonValueFramer framer, string input, int chunk, out JsonValueFramer.Result last)
    {
        var values = new List<string>();
        var bytes = Encoding.UTF8.GetBytes(input);
        last = JsonValueFramer.Result.NeedMore;
        for (var pos = 0; pos < bytes.Length;)
        {
            var buffer = framer.GetWriteBuffer();
            var n = Math.Min(Math.Min(chunk, buffer.Length), bytes.Length - pos);
            if (n == 0)
            {
                break;
            }
            bytes.AsSpan(pos, n).CopyTo(buffer.Span);
            framer.Advance(n);
            pos += n;
            while ((last = framer.TryTake(out var value)) == JsonValueFramer.Result.Value)
            {
                values.Add(Encoding.UTF8.GetString(value.Span));
            }
            if (last == JsonValueFramer.Result.Malformed)
            {
                break;
            }
        }
        return values;
    }

    [TestCase(1)]
    [TestCase(3)]
    [TestCase(4096)]
    public void Values_splitAnywhere_areCutWhole(int chunk)
    {
        const string input = """ {"a":"}{\"]","b":[1,{"c":null}]}{"d":"\\"}  [1,2]"x}" 42 """ + "\n";
        var values = Feed(new JsonValueFramer(1 << 20), input, chunk, out _);
        Assert.That(values, Is.EqualTo(new[] { """{"a":"}{\"]","b":[1,{"c":null}]}""", """{"d":"\\"}""", "[1,2]", "\"x}\"", "42" }));
    }

    [Test]
    public void Nesting_deeperThanTheLimit_isMalformed()
    {
        var framer = new JsonValueFramer(1 << 20, maxDepth: 16);
        Assert.That(Feed(framer, new string('[', 16) + new string(']', 16), 7, out _), Has.Count.EqualTo(1));
        Feed(framer, new string('[', 17), 7, out var last);
        Assert.That(last, Is.EqualTo(JsonValueFramer.Result.Malformed));
        Assert.That(framer.BufferedBytes, Is.Zero, "everything held is dropped");
    }

    [Test]
    public void UnfinishedValue_neverBuffersMoreThanTheLimit()
    {
        const int max = 100_000;
        var framer = new JsonValueFramer(max);
        var values = Feed(framer, "{\"pad\":\"" + new string('x', 1_000_000), 8192, out var last);
        Assert.That(values, Is.Empty);
        Assert.That(last, Is.EqualTo(JsonValueFramer.Result.NeedMore));
        Assert.That(framer.Overflowed, Is.True);
        Assert.That(framer.Capacity, Is.LessThanOrEqualTo(max));
        Assert.That(framer.BufferedBytes, Is.EqualTo(max));
        Assert.That(framer.GetWriteBuffer().Length, Is.Zero);
    }

    [TestCase("}")]
    [TestCase("]")]
    [TestCase(",")]
    public void StrayCloser_isMalformed(string input)
    {
        Feed(new JsonValueFramer(1024), input, 1, out var last);
        Assert.That(last, Is.EqualTo(JsonValueFramer.Result.Malformed));
    }
}
