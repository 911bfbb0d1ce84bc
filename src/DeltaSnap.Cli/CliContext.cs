using DeltaSnap.Cli.Logging;
using DeltaSnap.Drivers;
using DeltaSnap.Lvol;
using DeltaSnap.Remote.Transports;
using DeltaSnap.Replication;
using DeltaSnap.Rsync;
using DeltaSnap.Zfs;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Cli;

/// <summary>
/// What the commands of one run of the tool share: the one <see cref="VolumeResolver"/> that opens volumes by URI, and
/// the logging behind it (standard error, at the level <c>--log-level</c> sets). A program that embeds the tool with a
/// backend of its own registers it here (<c>new CliContext(error, r =&gt; r.Add(new MyBackend()))</c>) and runs
/// <see cref="Program.RunAsync(CliContext, IReadOnlyList{string}, TextWriter, TextWriter, bool, CancellationToken)"/>.
/// Disposing it ends the remote sessions its resolver opened.
/// </summary>
internal sealed class CliContext : IAsyncDisposable
{
    /// <summary>Creates the context: the tool's backends (lvol, zfs, btrfs, rbd, dir, file; lvol creates a missing store file when a volume is created in it), then those <paramref name="addBackends"/> registers, then the remote schemes (ssh, tls) with default options.</summary>
    /// <param name="error">Where log lines go (standard error).</param>
    /// <param name="addBackends">Registers further backends; null for none.</param>
    public CliContext(TextWriter error, Action<VolumeResolver>? addBackends = null)
        : this(new StandardErrorLoggerFactory(error ?? throw new ArgumentNullException(nameof(error))), addBackends, new RemoteTransportOptions(), new ZfsDriverOptions())
    {
    }

    private CliContext(StandardErrorLoggerFactory logging, Action<VolumeResolver>? addBackends, RemoteTransportOptions remote, ZfsDriverOptions zfs)
    {
        Logging = logging;
        AddBackends = addBackends;
        Resolver = CreateLocalResolver(logging, addBackends, zfs).AddRemote(remote);
    }

    /// <summary>The logger factory of the resolver, the drivers it opens and the replicator.</summary>
    public StandardErrorLoggerFactory Logging { get; }

    /// <summary>Opens the volumes the commands name (local backends and ssh://, tls://).</summary>
    public VolumeResolver Resolver { get; }

    /// <summary>The embedding program's further backends, if any.</summary>
    public Action<VolumeResolver>? AddBackends { get; }

    /// <summary>A resolver with the tool's local backends and <paramref name="addBackends"/>' (what <c>deltasnap serve</c> offers: no remote schemes).</summary>
    /// <param name="logging">The resolver's and its drivers' logging.</param>
    /// <param name="addBackends">Registers further backends; null for none.</param>
    /// <param name="zfs">The ZFS driver's options (<c>--zfs-base-protection</c>); null for the defaults.</param>
    public static VolumeResolver CreateLocalResolver(ILoggerFactory logging, Action<VolumeResolver>? addBackends, ZfsDriverOptions? zfs = null)
    {
        var resolver = new VolumeResolver(logging).AddLvol(new LvolBackendOptions { CreateMissingStores = true }).AddZfs(zfs ?? new ZfsDriverOptions()).AddBtrfs().AddRbd().AddDir().AddFile();
        addBackends?.Invoke(resolver);
        return resolver;
    }

    /// <summary>
    /// A context like this one whose remote schemes use <paramref name="remote"/> (a command's TLS and ssh options) and
    /// whose ZFS driver uses <paramref name="zfs"/> (null: the defaults); the caller disposes it.
    /// </summary>
    public CliContext WithRemote(RemoteTransportOptions remote, ZfsDriverOptions? zfs = null)
    {
        ArgumentNullException.ThrowIfNull(remote);
        return new CliContext(Logging, AddBackends, remote, zfs ?? new ZfsDriverOptions());
    }

    /// <summary>A replicator on this context's logging, with rsync for file system volumes of different backends.</summary>
    public Replicator CreateReplicator() => new(Logging) { TreeSynchronizer = new RsyncTreeSynchronizer() };

    /// <summary>Ends the sessions of the resolver's backends that hold any (the remote ones).</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var backend in Resolver.Backends.OfType<IAsyncDisposable>().Distinct())
        {
            await backend.DisposeAsync().ConfigureAwait(false);
        }
    }
}
