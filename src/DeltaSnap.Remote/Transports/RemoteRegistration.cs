using DeltaSnap.Drivers;
using DeltaSnap.Remote;
using DeltaSnap.Remote.Transports;

namespace DeltaSnap
{
    /// <summary>
    /// Registers the remote schemes with a <see cref="VolumeResolver"/>: <c>ssh://[user@]host[:port]/INNER</c> and
    /// <c>tls://host:port/INNER</c>, where INNER is an address the server resolves (<c>zfs:pool/vm</c>,
    /// <c>lvol:/srv/a.lvs#vm</c>). Volumes opened through them are <see cref="RemoteVolume"/>s, which the replicator
    /// refreshes like local ones, so a refresh pushes, pulls or relays by naming a remote source or target.
    /// </summary>
    public static class RemoteVolumeResolverExtensions
    {
        /// <summary>Registers <c>ssh</c> and <c>tls</c> with the default options (ssh as configured for the user; <c>tls</c> addresses then fail until a client certificate is set).</summary>
        /// <exception cref="ArgumentException">The resolver has an <c>ssh</c> or <c>tls</c> backend already.</exception>
        public static VolumeResolver AddRemote(this VolumeResolver resolver) => resolver.AddRemote(new RemoteTransportOptions());

        /// <summary>
        /// Registers <c>ssh</c> and <c>tls</c>. The resolver keeps one session per peer, shared by every volume opened on
        /// that peer (a source and a target on the same host use one connection); the sessions end when the backends are
        /// disposed (each registered backend is <see cref="IAsyncDisposable"/>: dispose the resolver's
        /// <see cref="VolumeResolver.Backends"/> that are when done with the resolver).
        /// <para>
        /// <see cref="VolumeResolver.OpenDriverAsync"/> takes two kinds of location for them: <c>PEER</c>
        /// (<c>[user@]host[:port]</c>), a driver that opens, creates and deletes volumes by their address on the server; and
        /// <c>PEER/SCHEME:LOCATION</c> (<c>OpenDriverAsync("tls", "host:7480/lvol:/srv/a.lvs")</c>), the server's own driver
        /// at SCHEME:LOCATION (a <see cref="RemoteVolumeDriver"/>), which also lists its volumes. The server authorises every
        /// request. A session that fails is reported as the transport saw it: <see cref="PeerRefusedException"/> (a
        /// certificate or an ssh login refused), <see cref="PeerUnreachableException"/> (nobody there, ssh ended).
        /// </para>
        /// </summary>
        /// <exception cref="ArgumentException">The resolver has an <c>ssh</c> or <c>tls</c> backend already, or the options are not usable.</exception>
        public static VolumeResolver AddRemote(this VolumeResolver resolver, RemoteTransportOptions options)
        {
            ArgumentNullException.ThrowIfNull(resolver);
            ArgumentNullException.ThrowIfNull(options);
            options.Ssh.Validate();
            var sessions = new PeerSessionPool(options, resolver.LoggerFactory);
            return resolver.Add(new RemoteBackend(RemoteBackend.SshScheme, sessions)).Add(new RemoteBackend(RemoteBackend.TlsScheme, sessions));
        }
    }
}

namespace DeltaSnap.Remote.Transports
{
    /// <summary>How the <c>ssh</c> and <c>tls</c> backends registered by <c>AddRemote</c> reach their peers.</summary>
    public sealed record RemoteTransportOptions
    {
        /// <summary>How <c>ssh</c> is started for <c>ssh://</c> addresses.</summary>
        public SshTransportOptions Ssh { get; init; } = new();

        /// <summary>The client certificate and the servers trusted for <c>tls://</c> addresses; null (the default) makes them fail with a clear message.</summary>
        public TlsTransportOptions? Tls { get; init; }

        /// <summary>The session's options (compression preference, bandwidth limit, timeouts); the peer name is set per peer.</summary>
        public RemoteSessionOptions Session { get; init; } = new();
    }
}
