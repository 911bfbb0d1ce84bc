using DeltaSnap.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Drivers;

/// <summary>
/// A storage backend: lists, creates, opens and deletes its volumes. Each backend package derives from it
/// (<c>LvolDriver</c>, <c>ZfsDriver</c>, …). Public methods validate names and log, then call the protected
/// <c>…Core</c> methods.
/// </summary>
public abstract class VolumeDriver : IAsyncDisposable
{
    /// <summary>Initializes the driver.</summary>
    /// <param name="scheme">The URI scheme naming this backend's volumes (<c>lvol</c>, <c>zfs</c>, …).</param>
    /// <param name="loggerFactory">Where to log; null for no logging.</param>
    protected VolumeDriver(string scheme, ILoggerFactory? loggerFactory)
    {
        ArgumentException.ThrowIfNullOrEmpty(scheme);
        Scheme = scheme;
        LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        Logger = LoggerFactory.CreateLogger(GetType());
    }

    /// <summary>The URI scheme of this backend's volume addresses.</summary>
    public string Scheme { get; }

    /// <summary>What this backend can do.</summary>
    public abstract DriverCapabilities Capabilities { get; }

    /// <summary>
    /// How this backend's native stream is labelled inside a delta stream (<see cref="DeltaSnap.Delta.DeltaStreamPayloadKind"/>);
    /// only meaningful with <see cref="DriverCapabilities.NativeStream"/>. Two volumes refresh by the native route only when
    /// both drivers declare the same kind. The default, <see cref="DeltaSnap.Delta.DeltaStreamPayloadKind.Blocks"/>, declares
    /// none: such a driver never takes the native route. Each backend with a native stream overrides it.
    /// </summary>
    public virtual DeltaSnap.Delta.DeltaStreamPayloadKind NativePayloadKind => DeltaSnap.Delta.DeltaStreamPayloadKind.Blocks;

    /// <summary>The rules volume names must follow.</summary>
    public virtual NameRules VolumeNameRules { get; } = new() { AllowSlash = true };

    /// <summary>The rules snapshot names must follow.</summary>
    public virtual NameRules SnapshotNameRules => NameRules.Snapshot;

    /// <summary>The logger factory for volumes and helpers of this driver.</summary>
    protected internal ILoggerFactory LoggerFactory { get; }

    /// <summary>This driver's logger.</summary>
    protected internal ILogger Logger { get; }

    /// <summary>Whether the backend has all of <paramref name="capabilities"/>.</summary>
    public bool Has(DriverCapabilities capabilities) => (Capabilities & capabilities) == capabilities;

    /// <summary>The names of the volumes this driver can see.</summary>
    public Task<IReadOnlyList<string>> ListVolumesAsync(CancellationToken cancellationToken = default) =>
        ListVolumesCoreAsync(cancellationToken);

    /// <summary>Opens an existing volume.</summary>
    /// <exception cref="ArgumentException">The name breaks the backend's rules.</exception>
    /// <exception cref="VolumeNotFoundException">There is no such volume.</exception>
    public Task<Volume> OpenVolumeAsync(string name, CancellationToken cancellationToken = default)
    {
        VolumeNameRules.Validate(name, "volume name");
        return OpenVolumeCoreAsync(name, cancellationToken);
    }

    /// <summary>Whether the volume exists.</summary>
    /// <exception cref="ArgumentException">The name breaks the backend's rules.</exception>
    public Task<bool> VolumeExistsAsync(string name, CancellationToken cancellationToken = default)
    {
        VolumeNameRules.Validate(name, "volume name");
        return VolumeExistsCoreAsync(name, cancellationToken);
    }

    /// <summary>Creates a volume.</summary>
    /// <exception cref="ArgumentException">The name breaks the backend's rules, or the options do not fit the backend.</exception>
    public async Task<Volume> CreateVolumeAsync(string name, VolumeCreateOptions options, CancellationToken cancellationToken = default)
    {
        VolumeNameRules.Validate(name, "volume name");
        ArgumentNullException.ThrowIfNull(options);
        var supported = options.Kind == VolumeKind.Block ? DriverCapabilities.BlockVolumes : DriverCapabilities.FilesystemVolumes;
        if (!Has(supported))
        {
            ThrowHelper.ThrowArgument(nameof(options), $"The {Scheme} backend has no {options.Kind.ToString().ToLowerInvariant()} volumes.");
        }
        if (options.Kind == VolumeKind.Block && options.Size <= 0)
        {
            ThrowHelper.ThrowArgument(nameof(options), "A block volume needs a size greater than zero.");
        }
        Log.VolumeCreating(Logger, Scheme, name, options.Kind, options.Size);
        return await CreateVolumeCoreAsync(name, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes a volume and all its snapshots.</summary>
    /// <exception cref="ArgumentException">The name breaks the backend's rules.</exception>
    public Task DeleteVolumeAsync(string name, CancellationToken cancellationToken = default)
    {
        VolumeNameRules.Validate(name, "volume name");
        Log.VolumeDeleting(Logger, Scheme, name);
        return DeleteVolumeCoreAsync(name, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await DisposeCoreAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>Lists volume names.</summary>
    protected abstract Task<IReadOnlyList<string>> ListVolumesCoreAsync(CancellationToken cancellationToken);

    /// <summary>Opens a volume (name validated).</summary>
    protected abstract Task<Volume> OpenVolumeCoreAsync(string name, CancellationToken cancellationToken);

    /// <summary>Whether a volume exists (name validated). The default lists the volumes.</summary>
    protected virtual async Task<bool> VolumeExistsCoreAsync(string name, CancellationToken cancellationToken) =>
        (await ListVolumesCoreAsync(cancellationToken).ConfigureAwait(false)).Contains(name, StringComparer.Ordinal);

    /// <summary>Creates a volume (name and options validated).</summary>
    protected abstract Task<Volume> CreateVolumeCoreAsync(string name, VolumeCreateOptions options, CancellationToken cancellationToken);

    /// <summary>Deletes a volume (name validated).</summary>
    protected abstract Task DeleteVolumeCoreAsync(string name, CancellationToken cancellationToken);

    /// <summary>Releases resources.</summary>
    protected virtual ValueTask DisposeCoreAsync() => ValueTask.CompletedTask;
}

/// <summary>A named volume or snapshot does not exist.</summary>
public sealed class VolumeNotFoundException : DeltaSnapException
{
    /// <summary>Creates the exception.</summary>
    public VolumeNotFoundException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public VolumeNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public VolumeNotFoundException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
