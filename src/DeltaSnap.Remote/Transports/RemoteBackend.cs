using DeltaSnap.Drivers;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Remote.Transports;

/// <summary>
/// The registration of one remote scheme (<c>ssh</c> or <c>tls</c>): parses <c>scheme://PEER/INNER</c> and opens INNER
/// on the peer through the pool's session for it. A driver location is <c>PEER</c> (volumes named by their address on the
/// server) or <c>PEER/SCHEME:LOCATION</c> (the server's driver at SCHEME:LOCATION). Disposing it ends the pool's sessions.
/// </summary>
internal sealed class RemoteBackend : VolumeBackend, IAsyncDisposable
{
    public const string SshScheme = "ssh";
    public const string TlsScheme = "tls";

    private readonly PeerSessionPool _sessions;

    public RemoteBackend(string scheme, PeerSessionPool sessions)
        : base(scheme) => _sessions = sessions;

    public override string AddressSyntax => Scheme == SshScheme ? "ssh://[USER@]HOST[:PORT]/ADDRESS" : "tls://HOST:PORT/ADDRESS";

    private string DriverLocationSyntax => Scheme == SshScheme ? "[USER@]HOST[:PORT][/SCHEME:LOCATION]" : "HOST:PORT[/SCHEME:LOCATION]";

    public ValueTask DisposeAsync() => _sessions.DisposeAsync();

    protected override VolumeAddress ParseAddressCore(string path)
    {
        var (peer, inner) = RemotePeerAddress.Parse(Scheme, path, AddressSyntax);
        CheckPeer(peer, $"{Scheme}:{path}", AddressSyntax);
        RemotePeerDriver.InnerAddressRules.Validate(inner, "remote volume address");
        return new VolumeAddress(Scheme, peer.Key, inner);
    }

    /// <summary>
    /// <c>PEER</c>: a driver that opens, creates, checks and deletes volumes by their address on the peer.
    /// <c>PEER/SCHEME:LOCATION</c>: the server's own driver at SCHEME:LOCATION (a <see cref="RemoteVolumeDriver"/>, whose
    /// scheme is the server's), which lists, creates, opens and deletes its volumes there, each request authorised by the
    /// server (listing against SCHEME:LOCATION, a volume against its own address). Disposing either leaves the session to the pool.
    /// </summary>
    protected override async Task<VolumeDriver> OpenDriverCoreAsync(string location, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var slash = location.IndexOf('/', StringComparison.Ordinal);
        var peer = ParseLocationPeer(slash < 0 ? location : location[..slash], location);
        string? serverScheme = null, serverLocation = null;
        if (slash >= 0)
        {
            var at = location[(slash + 1)..];
            var colon = at.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || colon == at.Length - 1)
            {
                throw new ArgumentException($"'{location}' is not a {Scheme} driver location: expected {DriverLocationSyntax}, where on the server as SCHEME:LOCATION (lvol:/srv/a.lvs, zfs:tank).", nameof(location));
            }
            RemotePeerDriver.InnerAddressRules.Validate(at, "remote driver location");
            (serverScheme, serverLocation) = (at[..colon], at[(colon + 1)..]);
        }
        var session = await _sessions.GetAsync(peer, cancellationToken).ConfigureAwait(false);
        return serverScheme is null
            ? new RemotePeerDriver(Scheme, session, loggerFactory)
            : await session.Session.OpenDriverAsync(serverScheme, serverLocation!, cancellationToken).ConfigureAwait(false);
    }

    protected override async Task<Volume> OpenVolumeCoreAsync(VolumeAddress address, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        var session = await _sessions.GetAsync(ParseLocationPeer(address.Location, address.Text), cancellationToken).ConfigureAwait(false);
        return await session.Session.OpenVolumeAsync(address.Name, cancellationToken).ConfigureAwait(false);
    }

    protected override async Task<Volume> CreateVolumeCoreAsync(VolumeAddress address, VolumeCreateOptions options, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        var session = await _sessions.GetAsync(ParseLocationPeer(address.Location, address.Text), cancellationToken).ConfigureAwait(false);
        return await session.Session.CreateVolumeAsync(address.Name, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The peer <c>[user@]host[:port]</c> of a driver location or a parsed address; a malformed one is an <see cref="ArgumentException"/>.</summary>
    private RemotePeerAddress ParseLocationPeer(string key, string what)
    {
        try
        {
            var peer = RemotePeerAddress.ParseKey(Scheme, key, AddressSyntax);
            CheckPeer(peer, what, DriverLocationSyntax);
            return peer;
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"'{what}' does not name a {Scheme} peer: {e.Message}", nameof(key), e);
        }
    }

    /// <summary>A TLS peer needs a port and is named by its certificate, not a user.</summary>
    private void CheckPeer(RemotePeerAddress peer, string text, string syntax)
    {
        if (Scheme == TlsScheme && peer.Port is null)
        {
            throw new FormatException($"'{text}' names no port: expected {syntax}.");
        }
        if (Scheme == TlsScheme && peer.User is not null)
        {
            throw new FormatException($"'{text}': a TLS peer is named by its certificate, not a user: expected {syntax}.");
        }
    }
}

/// <summary>
/// A driver for one peer, as <see cref="VolumeResolver.OpenDriverAsync"/> gives it for a location <c>PEER</c>: volumes
/// named by their address on the peer. It asks whether they exist, opens, creates and deletes them; listing needs a
/// location on the server (<c>PEER/SCHEME:LOCATION</c>). Disposing it leaves the session to the pool.
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
        throw new NotSupportedException($"{session.PeerName} lists no volumes without a location on the server: open the driver at PEER/SCHEME:LOCATION (tls://host:port/lvol:/srv/a.lvs).");

    protected override async Task<bool> VolumeExistsCoreAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return await session.Session.VolumeExistsAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (SessionException e) when (e.RemoteExceptionType is "System.IO.FileNotFoundException" or "System.IO.DirectoryNotFoundException")
        {
            // The volume's container is missing on the peer (an lvol store file): as locally, creating the volume creates it.
            throw new FileNotFoundException(e.Message, e);
        }
    }

    protected override Task<Volume> OpenVolumeCoreAsync(string name, CancellationToken cancellationToken) =>
        session.Session.OpenVolumeAsync(name, cancellationToken);

    protected override Task<Volume> CreateVolumeCoreAsync(string name, VolumeCreateOptions options, CancellationToken cancellationToken) =>
        session.Session.CreateVolumeAsync(name, options, cancellationToken);

    /// <summary>Opens the volume on the server and deletes it through the driver that came with it, so the server authorises the deletion against the volume's own address (write).</summary>
    protected override async Task DeleteVolumeCoreAsync(string name, CancellationToken cancellationToken)
    {
        var volume = await session.Session.OpenVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        await using (volume.Driver.ConfigureAwait(false))
        {
            await volume.Driver.DeleteVolumeAsync(volume.Name, cancellationToken).ConfigureAwait(false);
        }
    }
}
