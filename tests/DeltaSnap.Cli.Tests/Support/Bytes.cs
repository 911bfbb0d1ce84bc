using System.Globalization;
using NUnit.Framework.Constraints;

namespace DeltaSnap.Cli.Tests.Support;

/// <summary>
/// Byte-for-byte equality of whole volume images, as a constraint: <c>Assert.That(actual, Bytes.EqualTo(expected))</c>.
/// NUnit's <c>Is.EqualTo</c> on two arrays compares them element by element through its general equality (about half a
/// second for a 4 MiB image, and the kill tests compare hundreds); this compares them with a vectorized span compare and
/// says where the first difference is.
/// </summary>
internal static class Bytes
{
    /// <summary>The same length and the same bytes as <paramref name="expected"/>.</summary>
    public static Constraint EqualTo(byte[] expected) => new BytesEqualConstraint(expected);

    /// <summary>Not the same bytes (another length, or some byte differs).</summary>
    public static Constraint NotEqualTo(byte[] expected) => new NotConstraint(new BytesEqualConstraint(expected));

    private sealed class BytesEqualConstraint(byte[] expected) : Constraint(expected)
    {
        public override string Description => $"the same {expected.Length} bytes";

        public override ConstraintResult ApplyTo<TActual>(TActual actual)
        {
            if (actual is not byte[] bytes)
            {
                return new ConstraintResult(this, actual, isSuccess: false);
            }
            var common = bytes.AsSpan().CommonPrefixLength(expected);
            return new Result(this, bytes, expected, common);
        }
    }

    private sealed class Result(IConstraint constraint, byte[] actual, byte[] expected, int common)
        : ConstraintResult(constraint, actual, common == actual.Length && common == expected.Length)
    {
        public override void WriteActualValueTo(MessageWriter writer)
        {
            var where = common < Math.Min(actual.Length, expected.Length)
                ? string.Create(CultureInfo.InvariantCulture, $"first difference at offset {common} (0x{actual[common]:x2}, expected 0x{expected[common]:x2})")
                : $"equal for the first {common} bytes";
            writer.Write($"{actual.Length} bytes, {where}");
        }
    }
}
