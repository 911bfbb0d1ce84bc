using System.Diagnostics;

namespace DeltaSnap.Testing;

/// <summary>
/// Decides what a test does when something it needs (a backend, a reference tool) is missing: it fails when
/// <c>DELTASNAP_REQUIRE_BACKENDS=1</c> (CI and <c>./build.sh test</c> set it, since they install and start
/// everything), and is ignored with the reason otherwise.
/// </summary>
public static class BackendRequirement
{
    /// <summary>Whether missing backends fail tests instead of skipping them.</summary>
    public static bool IsRequired => Environment.GetEnvironmentVariable("DELTASNAP_REQUIRE_BACKENDS") == "1";

    /// <summary>Fails or ignores the current test when <paramref name="available"/> is false.</summary>
    public static void Require(bool available, string what)
    {
        if (available)
        {
            return;
        }
        var message = $"{what} is not available here. `./build.sh test` installs and starts it.";
        if (IsRequired)
        {
            Assert.Fail(message + " (DELTASNAP_REQUIRE_BACKENDS=1, so this is a failure.)");
        }
        Assert.Ignore(message);
    }

    /// <summary>Fails or ignores the current test unless the program <paramref name="name"/> is on the PATH.</summary>
    public static string RequireProgram(string name, string? package = null)
    {
        var path = FindProgram(name);
        Require(path is not null, $"The program `{name}`" + (package is null ? "" : $" (Debian package {package})"));
        return path!;
    }

    /// <summary>Fails or ignores the current test unless environment variable <paramref name="name"/> is set; returns its value.</summary>
    public static string RequireEnvironment(string name, string what)
    {
        var value = Environment.GetEnvironmentVariable(name);
        Require(!string.IsNullOrEmpty(value), $"{what} (environment variable {name})");
        return value!;
    }

    /// <summary>The full path of program <paramref name="name"/> on the PATH, or null.</summary>
    public static string? FindProgram(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
                     .Concat(["/usr/sbin", "/sbin"]))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    /// <summary>Runs a program with arguments and returns its standard output; throws with its stderr when it fails.</summary>
    public static string Run(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited with {process.ExitCode}: {stderr}");
        }
        return stdout.Result;
    }
}
