using System.CommandLine;
using DeltaSnap.Cli.Output;
using DeltaSnap.Drivers;

namespace DeltaSnap.Cli.Commands;

/// <summary><c>deltasnap volume create|list|delete …</c>: volumes on any registered backend, named by URI, here or on a server (<c>tls://</c>, <c>ssh://</c> with the remote options).</summary>
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
        var command = new Command("create", "Create an empty volume (a block volume of --size bytes, or with --filesystem a file system volume), here or on a server (ssh://, tls://).") { volume, size, filesystem };
        var remote = new RemoteOptions();
        remote.AddTo(command);
        CommandRunner.SetHandler(command, (parseResult, output, cancellationToken) => remote.RunAsync(context, parseResult, [parseResult.GetRequiredValue(volume)], async c =>
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
            var address = SnapshotCommands.ParseAddress(c, parseResult.GetRequiredValue(volume));
            var options = new VolumeCreateOptions { Kind = isFilesystem ? VolumeKind.Filesystem : VolumeKind.Block, Size = bytes };
            Volume created;
            try
            {
                created = await c.Resolver.CreateVolumeAsync(address, options, cancellationToken).ConfigureAwait(false);
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
        }));
        return command;
    }

    private static Command ListCommand(CliContext context)
    {
        var location = new Argument<string>("LOCATION")
        {
            Description = "Where to list: SCHEME:LOCATION, the part of a volume URI before the volume's own name (lvol:/srv/a.lvs, zfs:POOL, btrfs:/mnt/pool, rbd:POOL, dir:/srv/trees, file:/srv/images), "
                + "or that on a server: ssh://[USER@]HOST[:PORT]/SCHEME:LOCATION, tls://HOST:PORT/SCHEME:LOCATION.",
        };
        var json = CommonOptions.Json("Print a JSON array of volume URIs instead of one per line.");
        var command = new Command("list", "List the volumes a backend holds at a location, here or on a server, as URIs.") { location, json };
        var remote = new RemoteOptions();
        remote.AddTo(command);
        CommandRunner.SetHandler(command, (parseResult, output, cancellationToken) => remote.RunAsync(context, parseResult, [parseResult.GetRequiredValue(location)], async c =>
        {
            var text = parseResult.GetRequiredValue(location);
            var addresses = IsRemote(text)
                ? await ListRemoteAsync(c, text, cancellationToken).ConfigureAwait(false)
                : await ListLocalAsync(c, text, cancellationToken).ConfigureAwait(false);
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
        }));
        return command;
    }

    /// <summary>The URIs of the volumes at SCHEME:LOCATION on this machine.</summary>
    private static Task<IReadOnlyList<string>> ListLocalAsync(CliContext context, string text, CancellationToken cancellationToken)
    {
        var (scheme, where) = SplitLocation(context, text);
        return ListAsync(context, () => context.Resolver.OpenDriverAsync(scheme, where, cancellationToken), scheme, where, prefix: "", cancellationToken);
    }

    /// <summary>
    /// The URIs of the volumes at <c>ssh://…/SCHEME:LOCATION</c> or <c>tls://…/SCHEME:LOCATION</c>: the resolver's remote
    /// backend opens the server's driver at SCHEME:LOCATION (location <c>PEER/SCHEME:LOCATION</c>; the peer needs read
    /// access to SCHEME:LOCATION), and each volume is named as a remote URI that <c>refresh</c>, <c>snapshot</c> and
    /// <c>volume delete</c> take as it is.
    /// </summary>
    private static Task<IReadOnlyList<string>> ListRemoteAsync(CliContext context, string text, CancellationToken cancellationToken)
    {
        // The resolver checks the peer's part and that SCHEME:LOCATION follows it (as the name of a remote address).
        var peer = SnapshotCommands.ParseAddress(context, text);
        var (scheme, where) = SplitLocation(context, peer.Name);
        return ListAsync(context, () => context.Resolver.OpenDriverAsync(peer.Scheme, $"{peer.Location}/{peer.Name}", cancellationToken),
            scheme, where, prefix: $"{peer.Scheme}://{peer.Location}/", cancellationToken);
    }

    /// <summary>Whether <paramref name="address"/> names a volume or location on a peer (<c>ssh://…</c>, <c>tls://…</c>).</summary>
    private static bool IsRemote(string address) =>
        address.StartsWith("ssh:", StringComparison.OrdinalIgnoreCase) || address.StartsWith("tls:", StringComparison.OrdinalIgnoreCase);

    /// <summary>Opens a driver with <paramref name="open"/>, lists its volumes at <paramref name="where"/> as URIs after <paramref name="prefix"/>, and releases it.</summary>
    private static async Task<IReadOnlyList<string>> ListAsync(CliContext context, Func<Task<VolumeDriver>> open, string scheme, string where, string prefix, CancellationToken cancellationToken)
    {
        VolumeDriver driver;
        try
        {
            driver = await open().ConfigureAwait(false);
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
        return names.Select(name => AddressOf(context, scheme, where, name)).OfType<string>().Select(address => prefix + address).ToList();
    }

    /// <summary>Splits SCHEME:LOCATION; a malformed one, or a scheme this tool does not know, is a usage error.</summary>
    private static (string Scheme, string Where) SplitLocation(CliContext context, string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == text.Length - 1)
        {
            throw new UsageException($"'{text}' is not SCHEME:LOCATION (e.g. lvol:/srv/a.lvs or zfs:tank).");
        }
        var (scheme, where) = (text[..colon], text[(colon + 1)..]);
        if (!context.Resolver.TryGetBackend(scheme, out _) || IsRemote(text))
        {
            var local = context.Resolver.Schemes.Where(s => !IsRemote(s + ":"));
            throw new UsageException($"Unknown scheme '{scheme}': this tool lists {string.Join(", ", local)} (on a server too: tls://HOST:PORT/SCHEME:LOCATION, ssh://HOST/SCHEME:LOCATION).");
        }
        return (scheme, where);
    }

    private static Command DeleteCommand(CliContext context)
    {
        var volume = SnapshotCommands.VolumeArgument(context, description: "The volume to delete");
        var yes = new Option<bool>("--yes") { Description = "Really delete it, with all its snapshots (required: nothing asks)." };
        var command = new Command("delete", "Delete a volume and all its snapshots, here or on a server (ssh://, tls://).") { volume, yes };
        var remote = new RemoteOptions();
        remote.AddTo(command);
        CommandRunner.SetHandler(command, (parseResult, output, cancellationToken) => remote.RunAsync(context, parseResult, [parseResult.GetRequiredValue(volume)], async c =>
        {
            var text = parseResult.GetRequiredValue(volume);
            var address = SnapshotCommands.ParseAddress(c, text);
            if (!parseResult.GetValue(yes))
            {
                throw new UsageException($"Deleting {text} removes it and all its snapshots: give --yes to confirm.");
            }
            // A remote address's driver (the peer's) opens the volume on the server and deletes it through the driver that
            // came with it, so the server authorises the deletion against the volume's own address (write), as it does a create.
            VolumeDriver driver;
            try
            {
                driver = await c.Resolver.OpenDriverAsync(address.Scheme, address.Location, cancellationToken).ConfigureAwait(false);
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
            await output.Out.WriteLineAsync($"deleted {text}").ConfigureAwait(false);
            return ExitCodes.Success;
        }));
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
