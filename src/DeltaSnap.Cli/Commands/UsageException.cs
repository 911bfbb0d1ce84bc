namespace DeltaSnap.Cli.Commands;

/// <summary>
/// Arguments that parse but do not make sense together (found by a command handler, after parsing).
/// <see cref="CommandRunner"/> prints the message and exits with <see cref="ExitCodes.Usage"/>.
/// </summary>
internal sealed class UsageException : Exception
{
    public UsageException()
    {
    }

    public UsageException(string message)
        : base(message)
    {
    }

    public UsageException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>
    /// A usage error for a bad argument the library rejected (a hostile name, for one), with its message as written:
    /// without the " (Parameter 'name')" that <see cref="ArgumentException.Message"/> appends, which names a .NET parameter, not an argument of the tool.
    /// </summary>
    public static UsageException FromArgument(ArgumentException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var message = e.Message;
        var suffix = e.ParamName is null ? null : $" (Parameter '{e.ParamName}')";
        if (suffix is not null && message.EndsWith(suffix, StringComparison.Ordinal))
        {
            message = message[..^suffix.Length];
        }
        return new UsageException(message, e);
    }
}
