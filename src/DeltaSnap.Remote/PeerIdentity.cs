namespace DeltaSnap.Remote;

/// <summary>Who the transport authenticated at the other end of a session (a certificate's subject, an ssh user, <c>stdio</c>).</summary>
/// <param name="Name">The peer's name as the transport established it; used in messages and by <see cref="VolumeServerOptions.Authorize"/>.</param>
/// <param name="CertificateSha256">The SHA-256 fingerprint of the peer's certificate (lower-case hex), when the transport is TLS.</param>
public sealed record PeerIdentity(string Name, string? CertificateSha256 = null)
{
    /// <summary>The peer of an in-process or stdio session, which is trusted with everything.</summary>
    public static PeerIdentity Local { get; } = new("local");

    /// <inheritdoc />
    public override string ToString() => CertificateSha256 is null ? Name : $"{Name} (sha256 {CertificateSha256})";
}

/// <summary>What an operation on a volume needs: reading it (lineage, send, read a device) or changing it (anything else).</summary>
public enum VolumeAccess
{
    /// <summary>The operation reads the volume: size, lineage, changed ranges, checksums, native send, a read-only device.</summary>
    Read,

    /// <summary>The operation changes the volume: create, resize, snapshots, rollback, promote, receive, a writable device.</summary>
    Write,
}

/// <summary>How a session compresses data frames (never payload the backend compressed already).</summary>
public enum SessionCompression
{
    /// <summary>No compression.</summary>
    None,

    /// <summary>LZ4 (K4os.Compression.LZ4), fast.</summary>
    Lz4,

    /// <summary>Zstandard (ZstdSharp.Port), level 3: smaller, slower.</summary>
    Zstd,
}
