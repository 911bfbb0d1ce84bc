using System.Text.Json.Serialization.Metadata;
using DeltaSnap.Cli.Commands;

namespace DeltaSnap.Cli.Output;

/// <summary>Writes one JSON document to a command's standard output, streamed, followed by a newline.</summary>
internal static class JsonOutput
{
    public static async Task WriteAsync<T>(CommandOutput output, T value, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        var stream = new Utf8TextWriterStream(output.Out);
        await using (stream.ConfigureAwait(false))
        {
            await System.Text.Json.JsonSerializer.SerializeAsync(stream, value, typeInfo, cancellationToken).ConfigureAwait(false);
        }
        await output.Out.WriteLineAsync().ConfigureAwait(false);
    }
}
