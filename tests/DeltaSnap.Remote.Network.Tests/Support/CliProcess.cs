using System.Diagnostics;
using System.Text;
using DeltaSnap.Testing;

namespace DeltaSnap.Remote.Network.Tests.Support;

/// <summary>What one run of the tool produced.</summary>
internal sealed record ToolResult(int ExitCode, string Out, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
}

/// <summary>
/// The built tool (DeltaSnap.Cli.dll next to the tests) run as a process of the dotnet host, in a network namespace
/// (<c>ip netns exec NS dotnet exec …</c>, which execs, so the process is the tool itself) or in this one.
/// </summary>
internal static class CliProcess
{
    public static string ToolAssembly => Path.Combine(AppContext.BaseDirectory, "DeltaSnap.Cli.dll");

    public static string DotnetHost =>
        Environment.ProcessPath is { } current && Path.GetFileNameWithoutExtension(current) == "dotnet"
            ? current
            : BackendRequirement.FindProgram("dotnet") ?? "dotnet";

    /// <summary>Starts the tool with standard streams redirected (standard input too, left open).</summary>
    public static Process Start(string? networkNamespace, params string[] args)
    {
        var info = networkNamespace is null ? new ProcessStartInfo(DotnetHost) : new ProcessStartInfo("ip");
        if (networkNamespace is not null)
        {
            foreach (var a in new[] { "netns", "exec", networkNamespace, DotnetHost })
            {
                info.ArgumentList.Add(a);
            }
        }
        info.ArgumentList.Add("exec");
        info.ArgumentList.Add(ToolAssembly);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.RedirectStandardInput = true;
        info.UseShellExecute = false;
        info.Environment["DOTNET_NOLOGO"] = "1";
        return Process.Start(info) ?? throw new InvalidOperationException("Cannot start the tool.");
    }

    /// <summary>Runs the tool to its end (three minutes at most).</summary>
    public static async Task<ToolResult> RunAsync(string? networkNamespace, params string[] args)
    {
        using var process = Start(networkNamespace, args);
        process.StandardInput.Close();
        return await WaitAsync(process, TimeSpan.FromMinutes(3));
    }

    /// <summary>Waits for a process and collects what it wrote; kills it when it takes longer than <paramref name="timeout"/>.</summary>
    public static async Task<ToolResult> WaitAsync(Process process, TimeSpan timeout)
    {
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"The tool did not end within {timeout}:\n{await stdout}\n{await stderr}");
        }
        return new ToolResult(process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>
/// A running <c>deltasnap serve --listen</c>: started, its "listening on ADDRESS:PORT" line read, its standard error
/// collected; disposing kills it.
/// </summary>
internal sealed class ServeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private readonly Task _stderrRead;

    private ServeProcess(Process process, string endpoint)
    {
        _process = process;
        EndPoint = endpoint;
        _stderrRead = Task.Run(async () =>
        {
            string? line;
            while ((line = await process.StandardError.ReadLineAsync()) is not null)
            {
                lock (_stderr)
                {
                    _stderr.AppendLine(line);
                }
            }
        });
    }

    /// <summary>Where it listens (<c>10.213.7.1:40123</c>).</summary>
    public string EndPoint { get; }

    public int ProcessId => _process.Id;

    /// <summary>What it logged so far.</summary>
    public string Log
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public static async Task<ServeProcess> StartAsync(string? networkNamespace, string listen, params string[] args)
    {
        var process = CliProcess.Start(networkNamespace, ["serve", "--listen", listen, .. args]);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        string? line;
        try
        {
            line = await process.StandardOutput.ReadLineAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            line = null;
        }
        if (line is null || !line.StartsWith("listening on ", StringComparison.Ordinal))
        {
            process.Kill(entireProcessTree: true);
            var error = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.Fail($"deltasnap serve did not start: {line}\n{error}");
        }
        var endpoint = line!["listening on ".Length..].Split(' ')[0];
        return new ServeProcess(process, endpoint);
    }

    /// <summary>Kills the server (SIGKILL): the connection ends without a goodbye.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>Waits until its log holds <paramref name="text"/> (ten seconds at most); whether it did.</summary>
    public async Task<bool> WaitForLogAsync(string text)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (Log.Contains(text, StringComparison.Ordinal))
            {
                return true;
            }
            await Task.Delay(50);
        }
        return Log.Contains(text, StringComparison.Ordinal);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync();
        await _stderrRead;
        _process.Dispose();
    }
}
