using System.Security.Cryptography;

namespace DeltaSnap.Cli.Tests.Support;

/// <summary>
/// Sparse image files drawn as a string, one character per cluster: <c>.</c> a hole, <c>z</c> written zeros, any other
/// character a cluster of data that depends only on that character and the cluster index. So <c>"ab.z"</c> and
/// <c>"ac.z"</c> differ only in cluster 1.
/// </summary>
internal static class TestImage
{
    /// <summary>The cluster size the tests use (small, so images stay small).</summary>
    public const int Cluster = 64 * 1024;

    public static string Create(string path, string clusters, int tailBytes = 0)
    {
        var length = (long)clusters.Length * Cluster + tailBytes;
        using (var handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(handle, length);
            for (var i = 0; i < clusters.Length; i++)
            {
                if (clusters[i] != '.')
                {
                    RandomAccess.Write(handle, ClusterBytes(clusters[i], i, Cluster), (long)i * Cluster);
                }
            }
            if (tailBytes > 0)
            {
                RandomAccess.Write(handle, ClusterBytes('t', clusters.Length, tailBytes), (long)clusters.Length * Cluster);
            }
        }
        return path;
    }

    /// <summary>The bytes <see cref="Create"/> writes for <paramref name="kind"/> at cluster <paramref name="index"/>.</summary>
    public static byte[] ClusterBytes(char kind, int index, int length)
    {
        var data = new byte[length];
        if (kind != 'z' && kind != '.')
        {
            new Random((kind * 7919) + index).NextBytes(data);
        }
        return data;
    }

    /// <summary>SHA-256 of <paramref name="kind"/>'s bytes at cluster <paramref name="index"/>, lowercase hex.</summary>
    public static string Sha256Of(char kind, int index, int length = Cluster) =>
        Convert.ToHexStringLower(SHA256.HashData(ClusterBytes(kind, index, length)));
}
