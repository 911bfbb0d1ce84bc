using System.CommandLine;
using DeltaSnap.Cli.Output;
using DeltaSnap.Drivers;

namespace DeltaSnap.Cli.Commands;

/// <summary><c>deltasnap volume create|list|delete …</c>: volumes on any registered backend, named by URI.</summary>
internal static class VolumeCommands
{
    public static Command Create(CliContext context) => new("volume", "Create, list and delete volumes on any backend.")
    {
        CreateCommand(context),
        ListCommand(context),
        DeleteCommand(context),
    };

    private static Command CreateCommand(CliContext context)
    {
        var volume = SnapshotCommands.VolumeArgument(context, description: "The volume to create");
        var size = new Option<string?>("--size") { Description = "The size of a block volume: bytes, or with a suffix K, M, G, T (64M, 10G). Required for block volumes." };
        var filesystem = new Option<bool>("--filesystem") { Description = "Create a file system volume (a ZFS dataset, a Btrfs subvolume, a dir: tree) instead of a block volume." };
        var command = new Command("create", "Create an empty volume (a block volume of --size bytes, or with --filesystem a file system volume).") { volume, size, filesystem };
        CommandRunner.SetHandler(command, async (parseResult, output, cancellationToken) =>
        {
            var isFilesystem = parseResult.GetValue(filesystem);
            var sizeText = parseResult.GetValue(size);
            long bytes = 0;
            if (isFilesystem && sizeText is not null)
            {
                throw new UsageException("--size applies to block volumes; a file system volume has no fixed size.");
            }
            if (!isFilesystem && (sizeText is null || !ByteSize.TryParse(sizeText, out bytes) || bytes == 0))
            {
                throw new UsageException(sizeText is null
                    ? "A block volume needs --size (e.g. --size 10G); give --filesystem for a file system volume."
                    : $"'{sizeText}' is not a size: give bytes or a number with K, M, G or T (e.g. 10G).");
            }
            var address = SnapshotCommands.ParseAddress(context, parseResult.GetRequiredValue(volume));
            var options = new VolumeCreateOptions { Kind = isFilesystem ? VolumeKind.Filesystem : VolumeKind.Block, Size = bytes };
            Volume created;
            try
            {
                created = await context.Resolver.CreateVolumeAsync(address, options, cancellationToken).ConfigureAwait(false);
            }
            catch (ArgumentException e)
            {
                throw UsageException.FromArgument(e);
            }
            try
            {
                await output.Out.WriteLineAsync(isFilesystem
                    ? $"created {created.Address} (file system)"
                    : $"created {created.Address} ({ByteSize.Format(bytes)} block volume)").ConfigureAwait(false);
            }
            finally
            {
                await created.Driver.DisposeAsync().ConfigureAwait(false);
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command ListCommand(CliContext context)
    {
        var location = new Argument<string>("LOCATION")
        {
            Description = "Where to list: SCHEME:LOCATION, the part of a volume URI before the volume's own name (lvol:/srv/a.lvs, zfs:POOL, btrfs:/mnt/pool, rbd:POOL, dir:/srv/trees, file:/srv/images).",
        };
        var json = CommonOptions.Json("Print a JSON array of volume URIs instead of one per line.");
        var command = new Command("list", "List the volumes a backend holds at a location, as URIs.") { location, json };
        CommandRunner.SetHandler(command, async (parseResult, output, cancellationToken) =>
        {
            var text = parseResult.GetRequiredValue(location);
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || colon == text.Length - 1)
            {
                throw new UsageException($"'{text}' is not SCHEME:LOCATION (e.g. lvol:/srv/a.lvs or zfs:tank).");
            }
            var (scheme, where) = (text[..colon], text[(colon + 1)..]);
            if (!context.Resolver.TryGetBackend(scheme, out _))
            {
                throw new UsageException($"Unknown scheme '{scheme}': this tool opens {string.Join(", ", context.Resolver.Schemes)}.");
            }
            VolumeDriver driver;
            try
            {
                driver = await context.Resolver.OpenDriverAsync(scheme, where, cancellationToken).ConfigureAwait(false);
            }
            catch (ArgumentException e)
            {
                throw UsageException.FromArgument(e);
            }
            IReadOnlyList<string> names;
            try
            {
                names = await driver.ListVolumesAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await driver.DisposeAsync().ConfigureAwait(false);
            }
            // A driver may list more than the location holds (ZFS without a root lists every pool): only what is there is shown.
            var addresses = names.Select(name => AddressOf(context, scheme, where, name)).OfType<string>().ToList();
            if (parseResult.GetValue(json))
            {
                await JsonOutput.WriteAsync<IReadOnlyList<string>>(output, addresses, CliJsonContext.Default.IReadOnlyListString, cancellationToken).ConfigureAwait(false);
                return ExitCodes.Success;
            }
            foreach (var address in addresses)
            {
                await output.Out.WriteLineAsync(address).ConfigureAwait(false);
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command DeleteCommand(CliContext context)
    {
        var volume = SnapshotCommands.VolumeArgument(context, description: "The volume to delete");
        var yes = new Option<bool>("--yes") { Description = "Really delete it, with all its snapshots (required: nothing asks)." };
        var command = new Command("delete", "Delete a volume and all its snapshots.") { volume, yes };
        CommandRunner.SetHandler(command, async (parseResult, output, cancellationToken) =>
        {
            var address = SnapshotCommands.ParseAddress(context, parseResult.GetRequiredValue(volume));
            if (!parseResult.GetValue(yes))
            {
                throw new UsageException($"Deleting {parseResult.GetRequiredValue(volume)} removes it and all its snapshots: give --yes to confirm.");
            }
            VolumeDriver driver;
            try
            {
                driver = await context.Resolver.OpenDriverAsync(address.Scheme, address.Location, cancellationToken).ConfigureAwait(false);
            }
            catch (ArgumentException e)
            {
                throw UsageException.FromArgument(e);
            }
            try
            {
                await driver.DeleteVolumeAsync(address.Name, cancellationToken).ConfigureAwait(false);
            }
            catch (ArgumentException e)
            {
                throw UsageException.FromArgument(e);
            }
            finally
            {
                await driver.DisposeAsync().ConfigureAwait(false);
            }
            await output.Out.WriteLineAsync($"deleted {parseResult.GetRequiredValue(volume)}").ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// The URI of volume <paramref name="name"/> listed at <paramref name="where"/>: the backends whose addresses carry the
    /// location apart from the name (lvol's <c>STORE#VOLUME</c>, the directories of dir:, file: and btrfs:) join them as their
    /// own address syntax does; ZFS and RBD names already start with the pool. Null when the name is not at that location.
    /// </summary>
    private static string? AddressOf(CliContext context, string scheme, string where, string name)
    {
        foreach (var candidate in new[] { $"{scheme}:{where}#{name}", $"{scheme}:{Path.Join(where, name)}", $"{scheme}:{name}" })
        {
            try
            {
                var parsed = context.Resolver.ParseAddress(candidate);
                if (parsed.Location.TrimEnd('/') == where.TrimEnd('/') && parsed.Name == name)
                {
                    return candidate;
                }
            }
            catch (Exception e) when (e is FormatException or ArgumentException)
            {
                // Not this backend's syntax; try the next form.
            }
        }
        return null;
    }
}
