using DeltaSnap.Cli.Commands;

namespace DeltaSnap.Cli.Tests;

public class ByteSizeTests
{
    [TestCase("0", 0L)]
    [TestCase("4096", 4096L)]
    [TestCase("4K", 4096L)]
    [TestCase("4k", 4096L)]
    [TestCase("4KB", 4096L)]
    [TestCase("4KiB", 4096L)]
    [TestCase("1M", 1L << 20)]
    [TestCase("3G", 3L << 30)]
    [TestCase("2T", 2L << 40)]
    [TestCase("512B", 512L)]
    public void TryParse_validSize_givesBinaryBytes(string text, long expected)
    {
        Assert.That(ByteSize.TryParse(text, out var bytes), Is.True);
        Assert.That(bytes, Is.EqualTo(expected));
    }

    [TestCase("")]
    [TestCase("K")]
    [TestCase("-1")]
    [TestCase("1.5M")]
    [TestCase("1 M")]
    [TestCase("1X")]
    [TestCase("9999999999T")]
    [TestCase(null)]
    public void TryParse_invalidSize_isFalse(string? text) =>
        Assert.That(ByteSize.TryParse(text, out _), Is.False);

    [TestCase(512L, "512 B")]
    [TestCase(4096L, "4 KiB")]
    [TestCase(1L << 20, "1 MiB")]
    [TestCase(3L << 29, "1.5 GiB")]
    public void Format_size_isShortBinaryForm(long bytes, string expected) =>
        Assert.That(ByteSize.Format(bytes), Is.EqualTo(expected));
}
