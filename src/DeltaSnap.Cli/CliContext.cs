using DeltaSnap.Cli.Logging;
using DeltaSnap.Drivers;
using DeltaSnap.Lvol;
using DeltaSnap.Replication;
using DeltaSnap.Rsync;

namespace DeltaSnap.Cli;

/// <summary>
/// What the commands of one run of the tool share: the one <see cref="VolumeResolver"/> that opens volumes by URI, and
/// the logging behind it (standard error, at the level <c>--log-level</c> sets). A program that embeds the tool with a
/// backend of its own registers it here (<c>new CliContext(error, r =&gt; r.Add(new MyBackend()))</c>) and runs
/// <see cref="Program.RunAsync(CliContext, IReadOnlyList{string}, TextWriter, TextWriter, bool, CancellationToken)"/>.
/// </summary>
internal sealed class CliContext
{
    /// <summary>Creates the context: the tool's backends (lvol, zfs, btrfs, rbd, dir, file; lvol creates a missing store file when a volume is created in it), then those <paramref name="addBackends"/> registers.</summary>
    /// <param name="error">Where log lines go (standard error).</param>
    /// <param name="addBackends">Registers further backends; null for none.</param>
    public CliContext(TextWriter error, Action<VolumeResolver>? addBackends = null)
    {
        ArgumentNullException.ThrowIfNull(error);
        Logging = new StandardErrorLoggerFactory(error);
        Resolver = new VolumeResolver(Logging).AddLvol(new LvolBackendOptions { CreateMissingStores = true }).AddZfs().AddBtrfs().AddRbd().AddDir().AddFile();
        addBackends?.Invoke(Resolver);
    }

    /// <summary>The logger factory of the resolver, the drivers it opens and the replicator.</summary>
    public StandardErrorLoggerFactory Logging { get; }

    /// <summary>Opens the volumes the commands name.</summary>
    public VolumeResolver Resolver { get; }

    /// <summary>A replicator on this context's logging, with rsync for file system volumes of different backends.</summary>
    public Replicator CreateReplicator() => new(Logging) { TreeSynchronizer = new RsyncTreeSynchronizer() };
}
