namespace DeltaSnap.Checksums;

/// <summary>
/// The precomputed operator that moves a CRC-64/ISO over a fixed number of bytes, for
/// <see cref="Crc64Iso.Combine(ulong, ulong, Crc64Shift)"/>. Get it from <see cref="Crc64Iso.ShiftOperator"/>;
/// <c>default</c> is the operator for zero bytes.
/// </summary>
internal readonly struct Crc64Shift : IEquatable<Crc64Shift>
{
    // Stored relative to the zero-length multiplier so that default(Crc64Shift) is a valid operator.
    private readonly ulong _relativeMultiplier;

    internal Crc64Shift(ulong multiplier) => _relativeMultiplier = multiplier ^ Crc64Iso.IdentityMultiplier;

    /// <summary>x^(8n-1) mod P in register form (see <see cref="Crc64Iso.MultiplyShifted"/>).</summary>
    internal ulong Multiplier => _relativeMultiplier ^ Crc64Iso.IdentityMultiplier;

    /// <summary>Whether both operators shift by the same distance modulo the polynomial's period.</summary>
    public static bool operator ==(Crc64Shift left, Crc64Shift right) => left.Equals(right);

    /// <summary>Whether the operators differ.</summary>
    public static bool operator !=(Crc64Shift left, Crc64Shift right) => !left.Equals(right);

    /// <inheritdoc/>
    public bool Equals(Crc64Shift other) => _relativeMultiplier == other._relativeMultiplier;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Crc64Shift other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => _relativeMultiplier.GetHashCode();
}
