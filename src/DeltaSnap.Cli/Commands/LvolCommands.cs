using System.Buffers;
using System.CommandLine;
using System.Globalization;
using System.Text.Json.Serialization;
using DeltaSnap.Cli.Output;
using DeltaSnap.Drivers;
using DeltaSnap.Lvol;

namespace DeltaSnap.Cli.Commands;

/// <summary>
/// <c>deltasnap lvol …</c>: administers an lvol store (the default backend, one file on local disk) and serves it
/// over JSON-RPC: <c>create-store</c>, <c>create</c>, <c>import</c>, <c>export</c>, <c>snapshot</c>, <c>list</c>,
/// <c>fsck</c>, <c>serve</c>.
/// </summary>
public static class LvolCommands
{
    private const int ChunkSize = 1 << 20;

    /// <summary>The <c>lvol</c> command group.</summary>
    public static Command Create() => new("lvol", "Administer an lvol store (the default backend: one file on local disk) and serve it over JSON-RPC.")
    {
        CreateStoreCommand(),
        CreateCommand(),
        ImportCommand(),
        ExportCommand(),
        SnapshotCommand(),
        ListCommand(),
        FsckCommand(),
        ServeCommand(),
    };

    private static Argument<string> StoreArgument() => new("STORE") { Description = "The store file." };

    private static Argument<string> VolumeArgument() => new("VOL") { Description = "The volume's name." };

    private static Command CreateStoreCommand()
    {
        var store = StoreArgument();
        var clusterSize = CommonOptions.ClusterSize("The cluster size, a power of two from 4K to 64M (default 1M).");
        var name = new Option<string?>("--name") { Description = "The store's name for JSON-RPC aliases (default: the file name without extension)." };
        var command = new Command("create-store", "Create a new, empty lvol store file.") { store, clusterSize, name };
        CommandRunner.SetHandler(command, async (parseResult, output, cancellationToken) =>
        {
            var path = parseResult.GetRequiredValue(store);
            var options = new LvolStoreOptions { ClusterSize = parseResult.GetValue(clusterSize) ?? ClusterLayout.DefaultClusterSize, Name = parseResult.GetValue(name) };
            var created = await LvolStore.CreateAsync(path, options, cancellationToken: cancellationToken).ConfigureAwait(false);
            await using (created.ConfigureAwait(false))
            {
                await output.Out.WriteLineAsync($"created lvol store {created.Path} (name {created.Name}, uuid {created.Uuid}, {ByteSize.Format(created.ClusterSize)} clusters)").ConfigureAwait(false);
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command CreateCommand()
    {
        var store = StoreArgument();
        var volume = VolumeArgument();
        var size = new Option<string>("--size", "-s") { Description = "The size, with an optional K/M/G/T suffix.", HelpName = "SIZE", Required = true };
        var thin = new Option<bool>("--thin") { Description = "Allocate clusters on first write instead of now." };
        var command = new Command("create", "Create a volume in the store.") { store, volume, size, thin };
        CommandRunner.SetHandler(command, (parseResult, output, cancellationToken) =>
            WithDriverAsync(parseResult.GetRequiredValue(store), async driver =>
            {
                var text = parseResult.GetRequiredValue(size);
                if (!ByteSize.TryParse(text, out var bytes) || bytes <= 0)
                {
                    throw new UsageException($"'{text}' is not a size: use a positive number of bytes with an optional K, M, G or T suffix.");
                }
                var created = await driver.CreateVolumeAsync(parseResult.GetRequiredValue(volume),
                    new VolumeCreateOptions { Size = bytes, Thin = parseResult.GetValue(thin) }, cancellationToken).ConfigureAwait(false);
                await output.Out.WriteLineAsync($"created {created.Address} ({ByteSize.Format(bytes)}, {(parseResult.GetValue(thin) ? "thin" : "thick")})").ConfigureAwait(false);
                return ExitCodes.Success;
            }));
        return command;
    }

    private static Command ImportCommand()
    {
        var store = StoreArgument();
        var volume = VolumeArgument();
        var file = new Argument<string>("FILE") { Description = "The file whose bytes are written into the volume." };
        var offset = new Option<string?>("--offset") { Description = "Where in the volume the file's first byte goes (default 0; K/M/G suffixes allowed).", HelpName = "N" };
        var command = new Command("import", "Write a file's bytes into a volume. Runs of zeros are unmapped, so thin volumes stay thin.") { store, volume, file, offset };
        CommandRunner.SetHandler(command, (parseResult, output, cancellationToken) =>
            WithDriverAsync(parseResult.GetRequiredValue(store), async driver =>
            {
                var start = 0L;
                if (parseResult.GetValue(offset) is { } text && (!ByteSize.TryParse(text, out start) || start < 0))
                {
                    throw new UsageException($"'{text}' is not an offset: use a non-negative number of bytes.");
                }
                var target = await driver.OpenVolumeAsync(parseResult.GetRequiredValue(volume), cancellationToken).ConfigureAwait(false);
                var path = parseResult.GetRequiredValue(file);
                var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous | FileOptions.SequentialScan);
                await using (input.ConfigureAwait(false))
                {
                    var device = await target.OpenDeviceAsync(null, writable: true, cancellationToken).ConfigureAwait(false);
                    await using (device.ConfigureAwait(false))
                    {
                        if (start > device.Length - input.Length)
                        {
                            throw new UsageException($"{path} ({input.Length} bytes) does not fit in {target.Address} ({device.Length} bytes) at offset {start}.");
                        }
                        var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
                        long written = 0;
                        try
                        {
                            int read;
                            while ((read = await input.ReadAtLeastAsync(buffer.AsMemory(0, ChunkSize), ChunkSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false)) > 0)
                            {
                                var at = start + written;
                                if (buffer.AsSpan(0, read).ContainsAnyExcept((byte)0))
                                {
                                    await device.WriteAsync(at, buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                                }
                                else
                                {
                                    await device.UnmapAsync(new ByteRange(at, read), cancellationToken).ConfigureAwait(false);
                                }
                                written += read;
                            }
                        }
                        finally
                        {
                            ArrayPool<byte>.Shared.Return(buffer);
                        }
                        await device.FlushAsync(cancellationToken).ConfigureAwait(false);
                        await output.Out.WriteLineAsync($"imported {written} bytes from {path} into {target.Address} at offset {start}").ConfigureAwait(false);
                    }
                }
                return ExitCodes.Success;
            }));
        return command;
    }

    private static Command ExportCommand()
    {
        var store = StoreArgument();
        var volume = new Argument<string>("VOL[@SNAP]") { Description = "The volume, or one of its snapshots as VOL@SNAP." };
        var file = new Argument<string>("FILE") { Description = "The file to write (created or replaced; sparse where the volume reads zeros)." };
        var command = new Command("export", "Write a volume's or a snapshot's bytes to a file.") { store, volume, file };
        CommandRunner.SetHandler(command, (parseResult, output, cancellationToken) =>
            WithDriverAsync(parseResult.GetRequiredValue(store), async driver =>
            {
                var name = parseResult.GetRequiredValue(volume);
                var at = name.IndexOf('@', StringComparison.Ordinal);
                var source = await driver.OpenVolumeAsync(at < 0 ? name : name[..at], cancellationToken).ConfigureAwait(false);
                var device = await source.OpenDeviceAsync(at < 0 ? null : name[(at + 1)..], cancellationToken: cancellationToken).ConfigureAwait(false);
                await using (device.ConfigureAwait(false))
                {
                    var path = parseResult.GetRequiredValue(file);
                    var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous);
                    await using (stream.ConfigureAwait(false))
                    {
                        stream.SetLength(device.Length);
                        var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
                        long data = 0;
                        try
                        {
                            await foreach (var range in device.GetAllocatedRangesAsync(new ByteRange(0, device.Length), cancellationToken).ConfigureAwait(false))
                            {
                                for (var offset = range.Offset; offset < range.End; offset += ChunkSize)
                                {
                                    var n = (int)Math.Min(ChunkSize, range.End - offset);
                                    await device.ReadAsync(offset, buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                                    await RandomAccess.WriteAsync(stream.SafeFileHandle, buffer.AsMemory(0, n), offset, cancellationToken).ConfigureAwait(false);
                                    data += n;
                                }
                            }
                        }
                        finally
                        {
                            ArrayPool<byte>.Shared.Return(buffer);
                        }
                        await output.Out.WriteLineAsync($"exported {source.Address}{(at < 0 ? "" : name[at..])} to {path}: {device.Length} bytes ({data} holding data)").ConfigureAwait(false);
                    }
                }
                return ExitCodes.Success;
            }));
        return command;
    }

    private static Command SnapshotCommand()
    {
        var store = StoreArgument();
        var volume = VolumeArgument();
        var snapshot = new Argument<string>("SNAP") { Description = "The snapshot's name." };
        var command = new Command("snapshot", "Take a snapshot of a volume (metadata only).") { store, volume, snapshot };
        CommandRunner.SetHandler(command, (parseResult, output, cancellationToken) =>
            WithDriverAsync(parseResult.GetRequiredValue(store), async driver =>
            {
                var target = await driver.OpenVolumeAsync(parseResult.GetRequiredValue(volume), cancellationToken).ConfigureAwait(false);
                var info = await target.CreateSnapshotAsync(parseResult.GetRequiredValue(snapshot), cancellationToken: cancellationToken).ConfigureAwait(false);
                await output.Out.WriteLineAsync($"created {target.Address}@{info.Name} ({info.Identity})").ConfigureAwait(false);
                return ExitCodes.Success;
            }));
        return command;
    }

    private static Command ListCommand()
    {
        var store = StoreArgument();
        var json = CommonOptions.Json("Print a JSON array instead of text.");
        var command = new Command("list", "List the store's lvols (volumes, snapshots as VOL@SNAP, clones): size, parent, allocation.") { store, json };
        CommandRunner.SetHandler(command, (parseResult, output, cancellationToken) =>
            WithDriverAsync(parseResult.GetRequiredValue(store), async driver =>
            {
                var entries = driver.Store.ListLvols().Select(l => new LvolListEntry(
                    l.Name, l.Uuid.ToString(), l.Size, l.ParentName, l.IsSnapshot, l.IsThin, l.AllocatedClusters,
                    l.CreatedUtc.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture))).ToList();
                if (parseResult.GetValue(json))
                {
                    await JsonOutput.WriteAsync<IReadOnlyList<LvolListEntry>>(output, entries, LvolCliJsonContext.Default.IReadOnlyListLvolListEntry, cancellationToken).ConfigureAwait(false);
                    return ExitCodes.Success;
                }
                await output.Out.WriteLineAsync($"{"NAME",-32} {"SIZE",10} {"ALLOC",10} {"KIND",-9} {"PARENT",-24} CREATED").ConfigureAwait(false);
                foreach (var e in entries)
                {
                    var kind = e.Snapshot ? "snapshot" : e.Thin ? "thin" : "thick";
                    var allocated = ByteSize.Format(e.AllocatedClusters * (long)driver.Store.ClusterSize);
                    await output.Out.WriteLineAsync($"{e.Name,-32} {ByteSize.Format(e.Size),10} {allocated,10} {kind,-9} {e.Parent ?? "-",-24} {e.Created}").ConfigureAwait(false);
                }
                return ExitCodes.Success;
            }));
        return command;
    }

    private static Command FsckCommand()
    {
        var store = StoreArgument();
        var command = new Command("fsck", "Check the store's committed metadata: allocation, no cluster used twice or leaked, parent links, sizes. Exit 1 on any problem.") { store };
        CommandRunner.SetHandler(command, (parseResult, output, cancellationToken) =>
            WithDriverAsync(parseResult.GetRequiredValue(store), async driver =>
            {
                var report = await driver.Store.FsckAsync(cancellationToken).ConfigureAwait(false);
                foreach (var problem in report.Problems)
                {
                    await output.Error.WriteLineAsync($"{CommandRunner.ToolName}: {driver.Store.Path}: {problem}").ConfigureAwait(false);
                }
                await output.Out.WriteLineAsync(
                    $"{driver.Store.Path}: metadata sequence {report.Sequence}, {report.LvolCount} lvol(s), {report.AllocatedClusters} cluster(s) allocated " +
                    $"({report.MappedClusters} mapped, {report.MetadataClusters} metadata): {(report.IsConsistent ? "consistent" : $"{report.Problems.Count} problem(s)")}").ConfigureAwait(false);
                return report.IsConsistent ? ExitCodes.Success : ExitCodes.Failure;
            }));
        return command;
    }

    private static Command ServeCommand()
    {
        var stores = new Option<string[]>("--store") { Description = "A store file to serve (repeat to serve several).", Required = true, AllowMultipleArgumentsPerToken = false };
        var socket = new Option<string>("--socket") { Description = "The Unix domain socket to listen on.", Required = true };
        var command = new Command("serve", "Serve stores over JSON-RPC 2.0 with SPDK's lvol methods and Longhorn's delta-rebuild methods, until interrupted.") { stores, socket };
        CommandRunner.SetHandler(command, async (parseResult, output, cancellationToken) =>
        {
            var opened = new List<LvolStore>();
            try
            {
                foreach (var path in parseResult.GetRequiredValue(stores))
                {
                    opened.Add(await LvolStore.OpenAsync(path, cancellationToken: cancellationToken).ConfigureAwait(false));
                }
                LvolRpcServer server;
                try
                {
                    server = new LvolRpcServer(opened);
                }
                catch (ArgumentException e)
                {
                    throw UsageException.FromArgument(e);
                }
                await using (server.ConfigureAwait(false))
                {
                    var path = parseResult.GetRequiredValue(socket);
                    await output.Out.WriteLineAsync($"serving {string.Join(", ", opened.Select(s => $"{s.Name} ({s.Path})"))} on {path}").ConfigureAwait(false);
                    await output.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
                    await server.RunAsync(path, cancellationToken).ConfigureAwait(false);
                }
                return ExitCodes.Success;
            }
            finally
            {
                foreach (var store in opened)
                {
                    await store.DisposeAsync().ConfigureAwait(false);
                }
            }
        });
        return command;
    }

    private static async Task<int> WithDriverAsync(string storePath, Func<LvolDriver, Task<int>> action)
    {
        var driver = await LvolDriver.OpenAsync(storePath).ConfigureAwait(false);
        try
        {
            return await action(driver).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            throw UsageException.FromArgument(e);
        }
        finally
        {
            await driver.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>One line of <c>deltasnap lvol list --json</c>.</summary>
internal sealed record LvolListEntry(string Name, string Uuid, long Size, string? Parent, bool Snapshot, bool Thin, long AllocatedClusters, string Created);

/// <summary>The source-generated JSON of the lvol commands.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(IReadOnlyList<LvolListEntry>))]
internal sealed partial class LvolCliJsonContext : JsonSerializerContext;
