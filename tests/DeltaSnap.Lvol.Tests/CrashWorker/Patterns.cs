namespace DeltaSnap.Lvol.CrashWorker;

/// <summary>The bytes a write of generation G puts at each offset; the test computes the same to tell before from after.</summary>
public static class Patterns
{
    public static byte[] Make(long generation, long offset, int length)
    {
        var data = new byte[length];
        for (var i = 0; i < length; i++)
        {
            data[i] = At(generation, offset + i);
        }
        return data;
    }

    public static byte At(long generation, long offset)
    {
        var x = unchecked(((ulong)generation * 0x9E3779B97F4A7C15UL) ^ ((ulong)offset * 0x632BE59BD9B4E019UL));
        x ^= x >> 29;
        return (byte)(x | 1);
    }
}
