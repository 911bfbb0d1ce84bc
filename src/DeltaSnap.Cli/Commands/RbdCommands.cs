using System.CommandLine;
using System.Globalization;
using DeltaSnap.Ceph;
using DeltaSnap.Drivers;

namespace DeltaSnap.Cli.Commands;

/// <summary>
/// <c>deltasnap rbd export-diff [--from-snap A] POOL/IMAGE[@SNAP] FILE|-</c> and
/// <c>deltasnap rbd import-diff FILE|- POOL/IMAGE</c>: rbd diff files that the <c>rbd</c> command's
/// <c>import-diff</c>/<c>export-diff</c> read and write, made and applied in-process through librbd.
/// </summary>
/// <remarks>
/// Connection settings come from <c>--conf</c>/<c>-c</c>, <c>--keyring</c>/<c>-k</c>, <c>--id</c>,
/// <c>--name</c>/<c>-n</c> and <c>--mon-host</c>/<c>-m</c>, as <c>rbd</c> takes them, or else from <c>CEPH_CONF</c>,
/// <c>CEPH_KEYRING</c> and <c>CEPH_ARGS</c>. Wire it into the root command with <c>RbdCommands.Create()</c>.
/// </remarks>
public static class RbdCommands
{
    /// <summary>The <c>rbd</c> command group.</summary>
    public static Command Create() => new("rbd", "RBD diff files, compatible with the rbd command's export-diff and import-diff.")
    {
        ExportDiffCommand(),
        ImportDiffCommand(),
    };

    // A pool name reaches the rbd command: the driver's rule for pool names (as for RbdDriverOptions.DefaultPool).
    private static string CheckPool(string pool, string option)
    {
        try
        {
            NameRules.Snapshot.Validate(pool, "pool name");
            return pool;
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{option} '{pool}': expected a pool name. {UsageException.FromArgument(e).Message}");
        }
    }

    private static Command ExportDiffCommand()
    {
        var spec = new Argument<string>("POOL/IMAGE@SNAP") { Description = "The image and the snapshot the diff ends at (without @SNAP: the live image). A missing pool is 'rbd'." };
        var path = new Argument<string>("FILE") { Description = "The diff file to create (it must not exist), or - for standard output." };
        var fromSnap = new Option<string?>("--from-snap") { Description = "The snapshot the diff starts from; without it the diff holds the whole image.", HelpName = "SNAP" };
        var format = new Option<int?>("--export-format") { Description = "The diff format: 1 (what rbd import-diff reads; the default) or 2.", HelpName = "1|2" };
        var connection = new ConnectionOptions();
        var command = new Command("export-diff", "Write the changes of an image between two snapshots as an rbd diff (rbd export-diff).")
        {
            spec, path, fromSnap, format,
        };
        connection.AddTo(command);
        CommandRunner.SetHandler(command, async (parseResult, output, cancellationToken) =>
        {
            var (image, snapshot) = ParseSpec(parseResult.GetRequiredValue(spec), snapshotAllowed: true);
            var diffFormat = parseResult.GetValue(format) switch
            {
                null or 1 => RbdDiffFormat.V1,
                2 => RbdDiffFormat.V2,
                var f => throw new UsageException($"--export-format {f}: use 1 or 2."),
            };
            var file = parseResult.GetRequiredValue(path);
            CheckSnapshotName(snapshot);
            CheckSnapshotName(parseResult.GetValue(fromSnap));
            return await WithVolumeAsync(connection.Read(parseResult), image, async volume =>
            {
                var toStdout = file == "-";
                Stream destination = toStdout
                    ? Console.OpenStandardOutput()
                    : new FileStream(file, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
                RbdDiffExportResult result;
                try
                {
                    await using (destination.ConfigureAwait(false))
                    {
                        result = await volume.ExportDiffAsync(parseResult.GetValue(fromSnap), snapshot, destination, diffFormat, cancellationToken).ConfigureAwait(false);
                        await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                catch when (!toStdout)
                {
                    File.Delete(file); // as rbd does: no half-written diff stays behind
                    throw;
                }
                var report = toStdout ? output.Error : output.Out;
                await report.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"exported {volume.Pool}/{volume.ImageName}{(snapshot is null ? "" : "@" + snapshot)}{(parseResult.GetValue(fromSnap) is { } f ? " from " + f : "")}: " +
                    $"{result.BytesWritten} bytes of data, {result.BytesZeroed} bytes zeroed, {result.Records} records, {result.StreamLength} bytes written")).ConfigureAwait(false);
                return ExitCodes.Success;
            }, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private static Command ImportDiffCommand()
    {
        var path = new Argument<string>("FILE") { Description = "The rbd diff file (v1 or v2), or - for standard input." };
        var spec = new Argument<string>("POOL/IMAGE") { Description = "The image to apply it to (it must exist). A missing pool is 'rbd'." };
        var connection = new ConnectionOptions();
        var command = new Command("import-diff", "Apply an rbd diff to an image, then create its end snapshot (rbd import-diff).")
        {
            path, spec,
        };
        connection.AddTo(command);
        CommandRunner.SetHandler(command, async (parseResult, output, cancellationToken) =>
        {
            var (image, _) = ParseSpec(parseResult.GetRequiredValue(spec), snapshotAllowed: false);
            var file = parseResult.GetRequiredValue(path);
            return await WithVolumeAsync(connection.Read(parseResult), image, async volume =>
            {
                var source = file == "-" ? Console.OpenStandardInput() : InputFiles.OpenRead(file);
                await using (source.ConfigureAwait(false))
                {
                    var created = await volume.ImportDiffAsync(source, cancellationToken: cancellationToken).ConfigureAwait(false);
                    await output.Out.WriteLineAsync(
                        $"imported {(file == "-" ? "standard input" : file)} into {volume.Pool}/{volume.ImageName}" +
                        (created is null ? "" : $", created snapshot {created.Name}")).ConfigureAwait(false);
                }
                return ExitCodes.Success;
            }, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>Splits <c>[rbd:][POOL/]IMAGE[@SNAP]</c>; the pool defaults to <c>rbd</c>, as for the rbd command.</summary>
    private static (string Image, string? Snapshot) ParseSpec(string text, bool snapshotAllowed)
    {
        var spec = text.StartsWith("rbd:", StringComparison.Ordinal) ? text[4..] : text;
        string? snapshot = null;
        var at = spec.LastIndexOf('@');
        if (at >= 0)
        {
            if (!snapshotAllowed)
            {
                throw new UsageException($"'{text}': name an image here, not a snapshot.");
            }
            snapshot = spec[(at + 1)..];
            spec = spec[..at];
            if (snapshot.Length == 0)
            {
                throw new UsageException($"'{text}': the snapshot name after '@' is empty.");
            }
        }
        if (spec.Length == 0)
        {
            throw new UsageException($"'{text}' names no image.");
        }
        return (spec.Contains('/', StringComparison.Ordinal) ? spec : "rbd/" + spec, snapshot);
    }

    /// <summary>Checks a snapshot name before anything connects; a bad one is a usage error.</summary>
    private static void CheckSnapshotName(string? name)
    {
        try
        {
            if (name is not null)
            {
                NameRules.Snapshot.Validate(name, "snapshot name");
            }
        }
        catch (ArgumentException e)
        {
            throw UsageException.FromArgument(e);
        }
    }

    /// <summary>Connects, opens the image and runs <paramref name="action"/>; bad names are usage errors.</summary>
    private static async Task<int> WithVolumeAsync(CephConnectionOptions connection, string image, Func<RbdVolume, Task<int>> action, CancellationToken cancellationToken)
    {
        var driver = await RbdDriver.ConnectAsync(new RbdDriverOptions { Connection = connection }, null, cancellationToken).ConfigureAwait(false);
        await using (driver.ConfigureAwait(false))
        {
            Volume volume;
            try
            {
                volume = await driver.OpenVolumeAsync(image, cancellationToken).ConfigureAwait(false);
            }
            catch (ArgumentException e)
            {
                throw UsageException.FromArgument(e);
            }
            try
            {
                return await action((RbdVolume)volume).ConfigureAwait(false);
            }
            catch (ArgumentException e)
            {
                throw UsageException.FromArgument(e);
            }
        }
    }

    /// <summary>The connection options <c>rbd</c> takes, each falling back to the environment when absent.</summary>
    private sealed class ConnectionOptions
    {
        private readonly Option<string?> _conf = new("--conf", "-c") { Description = "The Ceph configuration file (default: CEPH_CONF, else /etc/ceph/ceph.conf).", HelpName = "FILE" };
        private readonly Option<string?> _keyring = new("--keyring", "-k") { Description = "The keyring (default: CEPH_KEYRING, else the one the configuration names).", HelpName = "FILE" };
        private readonly Option<string?> _id = new("--id") { Description = "The client id, without 'client.' (default: --id or --name in CEPH_ARGS, else admin).", HelpName = "ID" };
        private readonly Option<string?> _name = new("--name", "-n") { Description = "The client name, client.ID (an alternative to --id).", HelpName = "client.ID" };
        private readonly Option<string?> _monHost = new("--mon-host", "-m") { Description = "Monitor addresses, overriding the configuration's mon_host.", HelpName = "ADDRESSES" };
        private readonly Option<bool> _noProgress = new("--no-progress") { Description = "Accepted for compatibility with rbd (deltasnap prints no progress)." };

        public void AddTo(Command command)
        {
            command.Options.Add(_conf);
            command.Options.Add(_keyring);
            command.Options.Add(_id);
            command.Options.Add(_name);
            command.Options.Add(_monHost);
            command.Options.Add(_noProgress);
        }

        public CephConnectionOptions Read(ParseResult parseResult)
        {
            var id = parseResult.GetValue(_id);
            if (parseResult.GetValue(_name) is { } name)
            {
                if (id is not null)
                {
                    throw new UsageException("Give --id or --name, not both.");
                }
                if (!name.StartsWith("client.", StringComparison.Ordinal) || name.Length == 7)
                {
                    throw new UsageException($"--name {name}: a client name is client.ID.");
                }
                id = name[7..];
            }
            var settings = new Dictionary<string, string>(StringComparer.Ordinal);
            if (parseResult.GetValue(_monHost) is { } monHost)
            {
                settings["mon_host"] = monHost;
            }
            return new CephConnectionOptions
            {
                ConfigFile = parseResult.GetValue(_conf),
                Keyring = parseResult.GetValue(_keyring),
                ClientId = id,
                Settings = settings,
            };
        }
    }
}
