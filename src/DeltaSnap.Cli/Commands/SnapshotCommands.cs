using System.CommandLine;
using System.Globalization;
using DeltaSnap.Cli.Output;
using DeltaSnap.Drivers;

namespace DeltaSnap.Cli.Commands;

/// <summary><c>deltasnap snapshot create|list|delete URI …</c>: a volume's snapshots, on any backend, here or on a server (<c>tls://</c>, <c>ssh://</c> with the remote options).</summary>
internal static class SnapshotCommands
{
    public static Command Create(CliContext context) => new("snapshot", "Create, list and delete a volume's snapshots.")
    {
        CreateCommand(context),
        ListCommand(context),
        DeleteCommand(context),
    };

    private static Command CreateCommand(CliContext context)
    {
        var volume = VolumeArgument(context);
        var name = new Argument<string>("NAME") { Description = "The snapshot's name." };
        var command = new Command("create", "Take a snapshot of the volume's live state.") { volume, name };
        var remote = new RemoteOptions();
        remote.AddTo(command);
        CommandRunner.SetHandler(command, (parseResult, output, cancellationToken) => remote.RunAsync(context, parseResult, [parseResult.GetRequiredValue(volume)], c =>
            WithVolumeAsync(c, parseResult.GetRequiredValue(volume), async v =>
            {
                var info = await v.CreateSnapshotAsync(parseResult.GetRequiredValue(name), cancellationToken: cancellationToken).ConfigureAwait(false);
                await output.Out.WriteLineAsync($"created {v.Address}@{info.Name} ({info.Identity})").ConfigureAwait(false);
                return ExitCodes.Success;
            }, cancellationToken)));
        return command;
    }

    private static Command ListCommand(CliContext context)
    {
        var volume = VolumeArgument(context);
        var json = CommonOptions.Json("Print a JSON array instead of text.");
        var command = new Command("list", "List the volume's snapshots, oldest first: name, identity, creation time.") { volume, json };
        var remote = new RemoteOptions();
        remote.AddTo(command);
        CommandRunner.SetHandler(command, (parseResult, output, cancellationToken) => remote.RunAsync(context, parseResult, [parseResult.GetRequiredValue(volume)], c =>
            WithVolumeAsync(c, parseResult.GetRequiredValue(volume), async v =>
            {
                var lineage = await v.GetLineageAsync(cancellationToken).ConfigureAwait(false);
                var entries = lineage.Select(s => new SnapshotEntry(
                    s.Name, s.Identity.ToString(), s.CreatedUtc.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture), s.ReceivedFrom?.ToString())).ToList();
                if (parseResult.GetValue(json))
                {
                    await JsonOutput.WriteAsync<IReadOnlyList<SnapshotEntry>>(output, entries, CliJsonContext.Default.IReadOnlyListSnapshotEntry, cancellationToken).ConfigureAwait(false);
                    return ExitCodes.Success;
                }
                foreach (var e in entries)
                {
                    await output.Out.WriteLineAsync($"{e.Name}\t{e.Identity}\t{e.Created}" + (e.ReceivedFrom is null ? "" : $"\treceived from {e.ReceivedFrom}")).ConfigureAwait(false);
                }
                return ExitCodes.Success;
            }, cancellationToken)));
        return command;
    }

    private static Command DeleteCommand(CliContext context)
    {
        var volume = VolumeArgument(context);
        var name = new Argument<string>("NAME") { Description = "The snapshot to delete." };
        var command = new Command("delete", "Delete a snapshot.") { volume, name };
        var remote = new RemoteOptions();
        remote.AddTo(command);
        CommandRunner.SetHandler(command, (parseResult, output, cancellationToken) => remote.RunAsync(context, parseResult, [parseResult.GetRequiredValue(volume)], c =>
            WithVolumeAsync(c, parseResult.GetRequiredValue(volume), async v =>
            {
                await v.DeleteSnapshotAsync(parseResult.GetRequiredValue(name), cancellationToken).ConfigureAwait(false);
                await output.Out.WriteLineAsync($"deleted {v.Address}@{parseResult.GetRequiredValue(name)}").ConfigureAwait(false);
                return ExitCodes.Success;
            }, cancellationToken)));
        return command;
    }

    /// <summary>A volume URI argument; its description lists the address forms of the registered backends.</summary>
    internal static Argument<string> VolumeArgument(CliContext context, string name = "URI", string description = "The volume") =>
        new(name) { Description = $"{description}: {string.Join(", ", context.Resolver.Backends.Select(b => b.AddressSyntax))}." };

    /// <summary>Opens the source and the target volume, runs <paramref name="action"/> on both, and releases their drivers.</summary>
    internal static Task<int> WithVolumesAsync(CliContext context, string source, string target, Func<Volume, Volume, Task<int>> action, CancellationToken cancellationToken) =>
        WithVolumeAsync(context, source, s => WithVolumeAsync(context, target, t => action(s, t), cancellationToken), cancellationToken);

    /// <summary>
    /// Opens the target volume of a refresh, runs <paramref name="action"/> on it, and releases its driver. A target that does not
    /// exist (no such volume, or no lvol store file) is created with <paramref name="like"/>'s kind and size when
    /// <paramref name="create"/> is set, as <c>incus copy --refresh</c> and <c>zfs receive</c> do; otherwise it is a usage error.
    /// </summary>
    internal static async Task<int> WithTargetVolumeAsync(CliContext context, string address, Volume like, bool create, Func<Volume, Task<int>> action, CancellationToken cancellationToken)
    {
        VolumeAddress parsed;
        try
        {
            parsed = context.Resolver.ParseAddress(address);
        }
        catch (FormatException e)
        {
            throw new UsageException(e.Message, e);
        }
        bool exists;
        try
        {
            var driver = await context.Resolver.OpenDriverAsync(parsed.Scheme, parsed.Location, cancellationToken).ConfigureAwait(false);
            try
            {
                exists = await driver.VolumeExistsAsync(parsed.Name, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await driver.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch (ArgumentException e)
        {
            throw UsageException.FromArgument(e);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // The container itself is missing (an lvol store file): creating the volume creates it.
            exists = false;
        }
        if (exists)
        {
            return await WithVolumeAsync(context, address, action, cancellationToken).ConfigureAwait(false);
        }
        if (!create)
        {
            throw new UsageException($"The target {address} does not exist (--no-create was given).");
        }
        var options = new VolumeCreateOptions
        {
            Kind = like.Kind,
            Size = like.Kind == VolumeKind.Block ? await like.GetSizeAsync(cancellationToken).ConfigureAwait(false) : 0,
        };
        Volume volume;
        try
        {
            volume = await context.Resolver.CreateVolumeAsync(parsed, options, cancellationToken).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            throw UsageException.FromArgument(e);
        }
        try
        {
            return await action(volume).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            throw UsageException.FromArgument(e);
        }
        finally
        {
            await volume.Driver.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Opens a volume by URI through the context's resolver; a malformed URI or a name the backend refuses is a usage error.</summary>
    internal static async Task<Volume> OpenVolumeAsync(CliContext context, string address, CancellationToken cancellationToken)
    {
        try
        {
            return await context.Resolver.OpenVolumeAsync(address, cancellationToken).ConfigureAwait(false);
        }
        catch (FormatException e)
        {
            throw new UsageException(e.Message, e);
        }
        catch (ArgumentException e)
        {
            // The backend refused the volume's name (a leading '-', a '..' component, a forbidden character).
            throw UsageException.FromArgument(e);
        }
    }

    /// <summary>Parses a volume URI through the context's resolver; a malformed URI or a refused name is a usage error.</summary>
    internal static VolumeAddress ParseAddress(CliContext context, string address)
    {
        try
        {
            return context.Resolver.ParseAddress(address);
        }
        catch (FormatException e)
        {
            throw new UsageException(e.Message, e);
        }
        catch (ArgumentException e)
        {
            throw UsageException.FromArgument(e);
        }
    }

    /// <summary>Opens the volume through the context's resolver, runs <paramref name="action"/>, and releases the driver. A bad address or name is a usage error.</summary>
    internal static async Task<int> WithVolumeAsync(CliContext context, string address, Func<Volume, Task<int>> action, CancellationToken cancellationToken)
    {
        var volume = await OpenVolumeAsync(context, address, cancellationToken).ConfigureAwait(false);
        try
        {
            return await action(volume).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            throw UsageException.FromArgument(e);
        }
        finally
        {
            await volume.Driver.DisposeAsync().ConfigureAwait(false);
        }
    }
}
