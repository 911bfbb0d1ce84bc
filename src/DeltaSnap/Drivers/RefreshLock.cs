using System.Security.Cryptography;
using System.Text;
using DeltaSnap.Diagnostics;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Drivers;

/// <summary>
/// The lock a refresh holds on its target from start to end: an exclusive <c>flock</c> on a file named after a hash of
/// the target's address, in <c>/run/lock/deltasnap</c> (or the temporary directory's <c>deltasnap-locks</c> where there
/// is no <c>/run/lock</c>). The kernel lets go of it when the process ends, however it ends, so a killed refresh never
/// leaves its target locked. It serialises refreshes on this machine; one on another machine that reaches the same
/// target through its own path is not seen.
/// </summary>
internal static class RefreshLock
{
    /// <summary>The errno of a lock another open file description holds (EWOULDBLOCK), as .NET reports it.</summary>
    private const int WouldBlock = 11;

    /// <summary>Takes the lock of <paramref name="target"/>; dispose the result to let go.</summary>
    /// <exception cref="RefreshInProgressException">Another refresh holds it.</exception>
    public static IAsyncDisposable Acquire(string target, ILogger logger)
    {
        var path = PathFor(target);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            // FileShare.None is an exclusive flock(LOCK_NB) on Unix; the file is never deleted, so two refreshes always lock one inode.
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1);
            try
            {
                var line = Encoding.UTF8.GetBytes($"{Environment.ProcessId} {target}\n");
                stream.SetLength(0);
                stream.Write(line);
                stream.Flush();
            }
            catch (IOException)
            {
                // The note for people is a courtesy: the lock is what counts.
            }
            return stream;
        }
        catch (IOException e) when (e.HResult == WouldBlock)
        {
            throw new RefreshInProgressException($"Another refresh of {target} is running (it holds {path}); try again when it has ended.", e)
            {
                Target = target,
                LockFile = path,
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A lock directory this user may not write (another user's /run/lock/deltasnap) must not stop the refresh.
            Log.RefreshLockUnavailable(logger, target, path, e.Message);
            return NoLock.Instance;
        }
    }

    /// <summary>The lock file of <paramref name="target"/>.</summary>
    public static string PathFor(string target)
    {
        var directory = Directory.Exists("/run/lock") ? "/run/lock/deltasnap" : Path.Combine(Path.GetTempPath(), "deltasnap-locks");
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(target)), 0, 16);
        return Path.Combine(directory, hash + ".lock");
    }

    private sealed class NoLock : IAsyncDisposable
    {
        public static readonly NoLock Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
