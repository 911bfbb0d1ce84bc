namespace DeltaSnap.Cli.Commands;

/// <summary>Where a command writes: results to <see cref="Out"/>, diagnostics to <see cref="Error"/>.</summary>
/// <param name="Out">Standard output (or a test's writer).</param>
/// <param name="Error">Standard error (or a test's writer).</param>
internal sealed record CommandOutput(TextWriter Out, TextWriter Error);
