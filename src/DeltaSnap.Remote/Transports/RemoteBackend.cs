using DeltaSnap.Drivers;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Remote.Transports;

/// <summary>
/// The registration of one remote scheme (<c>ssh</c> or <c>tls</c>): parses <c>scheme://PEER/INNER</c> and opens INNER
/// on the peer through the pool's session for it. Disposing it ends the pool's sessions.
/// </summary>
internal sealed class RemoteBackend : VolumeBackend, IAsyncDisposable
{
    public const string SshScheme = "ssh";
    public const string TlsScheme = "tls";

    private readonly PeerSessionPool _sessions;

    public RemoteBackend(string scheme, PeerSessionPool sessions)
        : base(scheme) => _sessions = sessions;

    public override string AddressSyntax => Scheme == SshScheme ? "ssh://[USER@]HOST[:PORT]/ADDRESS" : "tls://HOST:PORT/ADDRESS";

    public ValueTask DisposeAsync() => _sessions.DisposeAsync();

    protected override VolumeAddress ParseAddressCore(string path)
    {
        var (peer, inner) = RemotePeerAddress.Parse(Scheme, path, AddressSyntax);
        if (Scheme == TlsScheme && peer.Port is null)
        {
            throw new FormatException($"'{Scheme}:{path}' names no port: expected {AddressSyntax}.");
        }
        if (Scheme == TlsScheme && peer.User is not null)
        {
            throw new FormatException($"'{Scheme}:{path}': a TLS peer is named by its certificate, not a user: expected {AddressSyntax}.");
        }
        RemotePeerDriver.InnerAddressRules.Validate(inner, "remote volume address");
        return new VolumeAddress(Scheme, peer.Key, inner);
    }

    protected override async Task<VolumeDriver> OpenDriverCoreAsync(string location, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var peer = RemotePeerAddress.ParseKey(Scheme, location, AddressSyntax);
        var session = await _sessions.GetAsync(peer, cancellationToken).ConfigureAwait(false);
        return new RemotePeerDriver(Scheme, session, loggerFactory);
    }

    protected override async Task<Volume> OpenVolumeCoreAsync(VolumeAddress address, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        var peer = RemotePeerAddress.ParseKey(Scheme, address.Location, AddressSyntax);
        var session = await _sessions.GetAsync(peer, cancellationToken).ConfigureAwait(false);
        return await session.RunAsync(s => s.OpenVolumeAsync(address.Name, cancellationToken)).ConfigureAwait(false);
    }

    protected override async Task<Volume> CreateVolumeCoreAsync(VolumeAddress address, VolumeCreateOptions options, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        var peer = RemotePeerAddress.ParseKey(Scheme, address.Location, AddressSyntax);
        var session = await _sessions.GetAsync(peer, cancellationToken).ConfigureAwait(false);
        return await session.RunAsync(s => s.CreateVolumeAsync(address.Name, options, cancellationToken)).ConfigureAwait(false);
    }
}

/// <summary>
/// A driver for one peer, as <see cref="VolumeResolver.OpenDriverAsync"/> gives it: volumes named by their address on
/// the peer. It asks whether they exist, opens and creates them; listing and deleting is the server's own business.
/// Disposing it leaves the session to the pool.
/// </summary>
internal sealed class RemotePeerDriver(string scheme, PeerSession session, ILoggerFactory loggerFactory) : VolumeDriver(scheme, loggerFactory)
{
    /// <summary>What an address on the peer may hold: no control characters, no shell metacharacters, no '..' or empty component, no leading '-'.</summary>
    public static NameRules InnerAddressRules { get; } = new()
    {
        AllowSlash = true,
        MaxLength = 4096,
        ForbiddenCharacters = "\\\"'`$;|&<>*?[]{}()!~ \t",
    };

    public override DriverCapabilities Capabilities => DriverCapabilities.BlockVolumes | DriverCapabilities.FilesystemVolumes;

    public override NameRules VolumeNameRules => InnerAddressRules;

    protected override Task<IReadOnlyList<string>> ListVolumesCoreAsync(CancellationToken cancellationToken) =>
        throw new NotSupportedException($"{session.PeerName} lists no volumes through a remote address: name each volume by its address on the server.");

    protected override async Task<bool> VolumeExistsCoreAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return await session.RunAsync(s => s.VolumeExistsAsync(name, cancellationToken)).ConfigureAwait(false);
        }
        catch (SessionException e) when (e.RemoteExceptionType is "System.IO.FileNotFoundException" or "System.IO.DirectoryNotFoundException")
        {
            // The volume's container is missing on the peer (an lvol store file): as locally, creating the volume creates it.
            throw new FileNotFoundException(e.Message, e);
        }
    }

    protected override Task<Volume> OpenVolumeCoreAsync(string name, CancellationToken cancellationToken) =>
        session.RunAsync(s => s.OpenVolumeAsync(name, cancellationToken));

    protected override Task<Volume> CreateVolumeCoreAsync(string name, VolumeCreateOptions options, CancellationToken cancellationToken) =>
        session.RunAsync(s => s.CreateVolumeAsync(name, options, cancellationToken));

    protected override Task DeleteVolumeCoreAsync(string name, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"Deleting volumes on {session.PeerName} is not offered through a remote address.");
}
