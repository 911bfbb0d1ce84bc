using DeltaSnap.Drivers;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Diagnostics;

/// <summary>
/// The drivers layer's adapter onto the log messages: <see cref="Log"/> itself takes only primitives and strings, so
/// that the lower layers' logging does not depend on the drivers layer's types.
/// </summary>
internal static partial class Log
{
    /// <summary>Logs <see cref="VolumeCreating(ILogger, string, string, string, long)"/> with the kind's name.</summary>
    public static void VolumeCreating(ILogger logger, string scheme, string name, VolumeKind kind, long size)
    {
        if (logger.IsEnabled(LogLevel.Information))
        {
            VolumeCreating(logger, scheme, name, kind.ToString(), size);
        }
    }
}
