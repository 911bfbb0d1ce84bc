using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace DeltaSnap;

/// <summary>Usage-error exceptions, thrown from one place so hot paths stay small.</summary>
internal static class ThrowHelper
{
    public static void ThrowIfNegative(long value, [CallerArgumentExpression(nameof(value))] string? name = null)
    {
        if (value < 0)
        {
            ThrowArgumentOutOfRange(name, value, "The value must not be negative.");
        }
    }

    public static void ThrowIfNull([NotNull] object? value, [CallerArgumentExpression(nameof(value))] string? name = null)
    {
        if (value is null)
        {
            ThrowArgumentNull(name);
        }
    }

    [DoesNotReturn]
    public static void ThrowArgumentOutOfRange(string? name, object? value, string message) =>
        throw new ArgumentOutOfRangeException(name, value, message);

    [DoesNotReturn]
    public static void ThrowArgumentNull(string? name) => throw new ArgumentNullException(name);

    [DoesNotReturn]
    public static void ThrowArgument(string? name, string message) => throw new ArgumentException(message, name);

    [DoesNotReturn]
    public static void ThrowInvalidOperation(string message) => throw new InvalidOperationException(message);

    [DoesNotReturn]
    public static void ThrowObjectDisposed(object instance) => throw new ObjectDisposedException(instance.GetType().FullName);

    [DoesNotReturn]
    public static void ThrowNotSupported(string message) => throw new NotSupportedException(message);
}
