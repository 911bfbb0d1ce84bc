using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Drivers;

/// <summary>
/// Turns a volume's URI into an open <see cref="Volume"/> through the backends registered with it. Each driver package
/// adds its backend with an extension method (<c>new VolumeResolver(loggerFactory).AddLvol().AddZfs().AddBtrfs().AddRbd()</c>);
/// a third-party backend registers the same way through <see cref="Add"/>. The resolver knows no scheme itself.
/// Register backends first, then use it (registration is not thread-safe; resolving is).
/// </summary>
public sealed class VolumeResolver
{
    private readonly Dictionary<string, VolumeBackend> _backends = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<VolumeBackend> _ordered = [];

    /// <summary>Creates a resolver with no backends.</summary>
    /// <param name="loggerFactory">What the drivers it opens log to; null for no logging.</param>
    public VolumeResolver(ILoggerFactory? loggerFactory = null) => LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance;

    /// <summary>What the drivers this resolver opens log to.</summary>
    public ILoggerFactory LoggerFactory { get; }

    /// <summary>The registered backends, in the order they were added.</summary>
    public IReadOnlyList<VolumeBackend> Backends => _ordered;

    /// <summary>The registered schemes, in the order they were added.</summary>
    public IReadOnlyList<string> Schemes => _ordered.Select(b => b.Scheme).ToArray();

    /// <summary>Registers a backend.</summary>
    /// <returns>This resolver, to chain registrations.</returns>
    /// <exception cref="ArgumentException">A backend with the same scheme is registered already.</exception>
    public VolumeResolver Add(VolumeBackend backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (!_backends.TryAdd(backend.Scheme, backend))
        {
            ThrowHelper.ThrowArgument(nameof(backend), $"A backend for the scheme '{backend.Scheme}' is registered already.");
        }
        _ordered.Add(backend);
        return this;
    }

    /// <summary>The backend registered for <paramref name="scheme"/> (in any case), if any.</summary>
    public bool TryGetBackend(string scheme, [NotNullWhen(true)] out VolumeBackend? backend)
    {
        ArgumentNullException.ThrowIfNull(scheme);
        return _backends.TryGetValue(scheme, out backend);
    }

    /// <summary>The backend registered for <paramref name="scheme"/> (in any case).</summary>
    /// <exception cref="ArgumentException">No backend is registered for it; the message lists the registered schemes.</exception>
    public VolumeBackend GetBackend(string scheme)
    {
        if (!TryGetBackend(scheme, out var backend))
        {
            ThrowHelper.ThrowArgument(nameof(scheme), UnknownScheme(scheme));
        }
        return backend;
    }

    /// <summary>Parses an address with the backend its scheme names.</summary>
    /// <exception cref="FormatException">The text is not <c>scheme:…</c>, no backend is registered for the scheme (the message lists those that are), or the backend does not accept the rest.</exception>
    public VolumeAddress ParseAddress(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            var example = _ordered.Count > 0 ? $", such as {string.Join(" or ", _ordered.Select(b => b.AddressSyntax))}" : "";
            throw new FormatException($"'{text}' is not a volume address: expected scheme:location{example}.");
        }
        var scheme = text[..colon];
        if (!_backends.TryGetValue(scheme, out var backend))
        {
            throw new FormatException($"'{text}': {UnknownScheme(scheme)}");
        }
        return backend.ParseAddress(text);
    }

    /// <summary>Opens the existing volume an address names; the caller disposes <c>volume.Driver</c> when done.</summary>
    /// <exception cref="FormatException">The address is malformed or its scheme is not registered.</exception>
    /// <exception cref="ArgumentException">The backend refuses the volume's name.</exception>
    /// <exception cref="VolumeNotFoundException">There is no such volume.</exception>
    public Task<Volume> OpenVolumeAsync(string address, CancellationToken cancellationToken = default) =>
        OpenVolumeAsync(ParseAddress(address), cancellationToken);

    /// <summary>Opens the existing volume an address names; the caller disposes <c>volume.Driver</c> when done.</summary>
    /// <exception cref="ArgumentException">Its scheme is not registered, or the backend refuses the volume's name.</exception>
    /// <exception cref="VolumeNotFoundException">There is no such volume.</exception>
    public Task<Volume> OpenVolumeAsync(VolumeAddress address, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        return GetBackend(address.Scheme).OpenVolumeAsync(address, LoggerFactory, cancellationToken);
    }

    /// <summary>Creates the volume an address names (its container, such as the pool or the store, must exist unless the backend's options say otherwise); the caller disposes <c>volume.Driver</c> when done.</summary>
    /// <exception cref="FormatException">The address is malformed or its scheme is not registered.</exception>
    /// <exception cref="ArgumentException">The backend refuses the volume's name, or the options do not fit it.</exception>
    public Task<Volume> CreateVolumeAsync(string address, VolumeCreateOptions options, CancellationToken cancellationToken = default) =>
        CreateVolumeAsync(ParseAddress(address), options, cancellationToken);

    /// <summary>Creates the volume an address names; the caller disposes <c>volume.Driver</c> when done.</summary>
    /// <exception cref="ArgumentException">Its scheme is not registered, the backend refuses the volume's name, or the options do not fit it.</exception>
    public Task<Volume> CreateVolumeAsync(VolumeAddress address, VolumeCreateOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(options);
        return GetBackend(address.Scheme).CreateVolumeAsync(address, options, LoggerFactory, cancellationToken);
    }

    /// <summary>Opens a driver for a backend's location without naming a volume (<c>lvol</c>, <c>/var/lib/store.lvs</c>); the caller disposes it.</summary>
    /// <exception cref="ArgumentException">The scheme is not registered, or the backend cannot open the location.</exception>
    public Task<VolumeDriver> OpenDriverAsync(string scheme, string location, CancellationToken cancellationToken = default) =>
        GetBackend(scheme).OpenDriverAsync(location, LoggerFactory, cancellationToken);

    private string UnknownScheme(string scheme) => _ordered.Count == 0
        ? $"no backend is registered for the scheme '{scheme}' (none is registered)."
        : $"unknown scheme '{scheme}'; registered: {string.Join(", ", _ordered.Select(b => b.Scheme))}.";
}
