using DeltaSnap.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Drivers;

/// <summary>
/// What a backend package registers with a <see cref="VolumeResolver"/>: its URI scheme, how its addresses are parsed,
/// and how a driver is opened for an address's location. Each driver package contributes one through an extension
/// method (<c>resolver.AddZfs()</c>, <c>AddBtrfs()</c>, <c>AddRbd()</c>, <c>AddLvol()</c>); a third-party backend
/// derives from this class and registers it with <see cref="VolumeResolver.Add"/>. Public methods validate and log,
/// then call the protected <c>…Core</c> methods.
/// </summary>
public abstract class VolumeBackend
{
    /// <summary>Initializes the registration.</summary>
    /// <param name="scheme">The URI scheme: a letter, then letters, digits, <c>+</c>, <c>-</c> or <c>.</c> (RFC 3986); kept in lower case.</param>
    /// <exception cref="ArgumentException">The scheme is empty or not a URI scheme.</exception>
    protected VolumeBackend(string scheme)
    {
        ArgumentException.ThrowIfNullOrEmpty(scheme);
        if (!char.IsAsciiLetter(scheme[0]) || !scheme.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.'))
        {
            ThrowHelper.ThrowArgument(nameof(scheme), $"'{scheme}' is not a URI scheme: a letter, then letters, digits, '+', '-' or '.'.");
        }
        Scheme = scheme.ToLowerInvariant();
    }

    /// <summary>The URI scheme this backend's addresses start with, in lower case (<c>zfs</c>).</summary>
    public string Scheme { get; }

    /// <summary>The form of this backend's addresses, for messages and help (<c>zfs:POOL/DATASET</c>).</summary>
    public abstract string AddressSyntax { get; }

    /// <summary>Parses an address of this backend (<c>scheme:…</c>; the scheme in any case).</summary>
    /// <exception cref="FormatException">The text does not start with this backend's scheme, or the rest is not one of its addresses.</exception>
    public VolumeAddress ParseAddress(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || !string.Equals(text[..colon], Scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException($"'{text}' is not a {Scheme} address: expected {AddressSyntax}.");
        }
        var rest = text[(colon + 1)..];
        if (rest.Length == 0)
        {
            throw new FormatException($"'{text}' names no volume after '{Scheme}:': expected {AddressSyntax}.");
        }
        var address = ParseAddressCore(rest);
        if (address is null || !string.Equals(address.Scheme, Scheme, StringComparison.Ordinal))
        {
            ThrowHelper.ThrowInvalidOperation($"The {Scheme} backend's parser returned an address of another scheme for '{text}'.");
        }
        return address with { Text = Scheme + ":" + rest };
    }

    /// <summary>Opens a driver for the volumes at <paramref name="location"/> (a store file, a pool, a directory: as <see cref="VolumeAddress.Location"/>). The caller disposes it.</summary>
    /// <exception cref="ArgumentException">The location is not one this backend can open.</exception>
    public async Task<VolumeDriver> OpenDriverAsync(string location, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        loggerFactory ??= NullLoggerFactory.Instance;
        Log.DriverOpening(loggerFactory.CreateLogger<VolumeBackend>(), Scheme, location);
        return await OpenDriverCoreAsync(location, loggerFactory, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens the existing volume <paramref name="address"/> names, with a driver of its own; the caller disposes <c>volume.Driver</c> when done.</summary>
    /// <exception cref="ArgumentException">The address is of another backend, or its name breaks the backend's rules.</exception>
    /// <exception cref="VolumeNotFoundException">There is no such volume.</exception>
    public async Task<Volume> OpenVolumeAsync(VolumeAddress address, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        RequireOwn(address);
        loggerFactory ??= NullLoggerFactory.Instance;
        Log.VolumeOpening(loggerFactory.CreateLogger<VolumeBackend>(), Scheme, address.Text);
        return await OpenVolumeCoreAsync(address, loggerFactory, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates the volume <paramref name="address"/> names, with a driver of its own; the caller disposes <c>volume.Driver</c> when done.</summary>
    /// <exception cref="ArgumentException">The address is of another backend, its name breaks the backend's rules, or the options do not fit the backend.</exception>
    public async Task<Volume> CreateVolumeAsync(VolumeAddress address, VolumeCreateOptions options, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        RequireOwn(address);
        ArgumentNullException.ThrowIfNull(options);
        loggerFactory ??= NullLoggerFactory.Instance;
        Log.VolumeCreatingAt(loggerFactory.CreateLogger<VolumeBackend>(), Scheme, address.Text);
        return await CreateVolumeCoreAsync(address, options, loggerFactory, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override string ToString() => AddressSyntax;

    /// <summary>Parses the part of an address after <c>scheme:</c> (not empty) into an address of <see cref="Scheme"/>.</summary>
    /// <exception cref="FormatException">It is not one of this backend's addresses; the message names <see cref="AddressSyntax"/>.</exception>
    protected abstract VolumeAddress ParseAddressCore(string path);

    /// <summary>
    /// Parses <c>POOL/NAME</c> (NAME may hold more slashes), the shape of pool-based backends' addresses (ZFS datasets, RBD
    /// images): the location is the pool, the volume name the whole path. <paramref name="validateName"/> checks the whole
    /// path by the backend's naming rules before anything contacts the backend.
    /// </summary>
    /// <exception cref="FormatException">There is no pool, or nothing after it.</exception>
    protected VolumeAddress ParsePoolQualifiedAddress(string path, Action<string> validateName)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(validateName);
        var slash = path.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == path.Length - 1)
        {
            throw new FormatException($"'{Scheme}:{path}' is not {Article(Scheme)} {Scheme} address: expected {AddressSyntax}.");
        }
        validateName(path);
        return new VolumeAddress(Scheme, path[..slash], path);
    }

    private static string Article(string word) => word.Length > 0 && "aeiou".Contains(char.ToLowerInvariant(word[0]), StringComparison.Ordinal) ? "an" : "a";

    /// <summary>Opens a driver for a location (not empty).</summary>
    protected abstract Task<VolumeDriver> OpenDriverCoreAsync(string location, ILoggerFactory loggerFactory, CancellationToken cancellationToken);

    /// <summary>Opens a volume (the address is this backend's). The default opens a driver for the location and the volume by name, disposing the driver if that fails.</summary>
    protected virtual async Task<Volume> OpenVolumeCoreAsync(VolumeAddress address, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        var driver = await OpenDriverCoreAsync(address.Location, loggerFactory, cancellationToken).ConfigureAwait(false);
        try
        {
            return await driver.OpenVolumeAsync(address.Name, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await driver.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Creates a volume (the address is this backend's). The default opens a driver for the location and creates the volume by name, disposing the driver if that fails.</summary>
    protected virtual async Task<Volume> CreateVolumeCoreAsync(VolumeAddress address, VolumeCreateOptions options, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        var driver = await OpenDriverCoreAsync(address.Location, loggerFactory, cancellationToken).ConfigureAwait(false);
        try
        {
            return await driver.CreateVolumeAsync(address.Name, options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await driver.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void RequireOwn(VolumeAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!string.Equals(address.Scheme, Scheme, StringComparison.OrdinalIgnoreCase))
        {
            ThrowHelper.ThrowArgument(nameof(address), $"'{address}' is not a {Scheme} address ({AddressSyntax}).");
        }
    }
}
