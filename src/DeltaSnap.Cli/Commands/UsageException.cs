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
}
