using System.Diagnostics;
using DeltaSnap.Testing;

namespace DeltaSnap.Cli.Tests.Support;

/// <summary>What one run of the tool produced.</summary>
internal sealed record ToolResult(int ExitCode, string Out, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
}

/// <summary>Runs <c>deltasnap</c>: in-process through <see cref="Program.RunAsync"/>, or as a real process.</summary>
internal static class DeltaSnapTool
{
    /// <summary>Runs the command line in-process with captured standard output and error.</summary>
    public static async Task<ToolResult> RunAsync(params string[] args)
    {
        using var output = new StringWriter { NewLine = "\n" };
        using var error = new StringWriter { NewLine = "\n" };
        var exitCode = await Program.RunAsync(args, output, error);
        return new ToolResult(exitCode, output.ToString(), error.ToString());
    }

    /// <summary>Runs the built tool (DeltaSnap.Cli.dll next to the tests) as a child process of the dotnet host.</summary>
    public static async Task<ToolResult> RunProcessAsync(params string[] args)
    {
        using var process = StartProcess(args);
        return await WaitAsync(process);
    }

    /// <summary>Starts the built tool with standard output and error redirected; finish with <see cref="WaitAsync"/>.</summary>
    public static Process StartProcess(params string[] args) => StartProcess(null, args);

    /// <summary>Starts the built tool with extra environment variables (null: none).</summary>
    public static Process StartProcess(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var assembly = typeof(Program).Assembly.Location;
        var host = Environment.ProcessPath is { } current && Path.GetFileNameWithoutExtension(current) == "dotnet"
            ? current
            : BackendRequirement.FindProgram("dotnet") ?? "dotnet";
        var info = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }
        info.ArgumentList.Add("exec");
        info.ArgumentList.Add(assembly);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        return Process.Start(info) ?? throw new InvalidOperationException($"Cannot start {host}.");
    }

    /// <summary>Waits (two minutes at most) for a process from <see cref="StartProcess"/> and collects what it wrote.</summary>
    public static async Task<ToolResult> WaitAsync(Process process)
    {
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw;
        }
        return new ToolResult(process.ExitCode, await stdout, await stderr);
    }
}
