namespace DeltaSnap.Checksums;

/// <summary>
/// The precomputed operator that moves a CRC-32C over a fixed number of bytes, for
/// <see cref="Crc32C.Combine(uint, uint, Crc32CShift)"/>. Get it from <see cref="Crc32C.ShiftOperator"/>;
/// <c>default</c> is the operator for zero bytes.
/// </summary>
internal readonly struct Crc32CShift : IEquatable<Crc32CShift>
{
    // Stored relative to the zero-length multiplier so that default(Crc32CShift) is a valid operator.
    private readonly uint _relativeMultiplier;

    internal Crc32CShift(uint multiplier) => _relativeMultiplier = multiplier ^ Crc32C.IdentityMultiplier;

    /// <summary>x^(8n-33) mod P in register form (see <see cref="Crc32C.MultiplyShifted"/>).</summary>
    internal uint Multiplier => _relativeMultiplier ^ Crc32C.IdentityMultiplier;

    /// <summary>Whether both operators shift by the same distance modulo the polynomial's period.</summary>
    public static bool operator ==(Crc32CShift left, Crc32CShift right) => left.Equals(right);

    /// <summary>Whether the operators differ.</summary>
    public static bool operator !=(Crc32CShift left, Crc32CShift right) => !left.Equals(right);

    /// <inheritdoc/>
    public bool Equals(Crc32CShift other) => _relativeMultiplier == other._relativeMultiplier;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Crc32CShift other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => _relativeMultiplier.GetHashCode();
}
