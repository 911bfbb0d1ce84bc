using System.Text;

namespace DeltaSnap.Rsync;

/// <summary>
/// The remote shell the local rsync client is given (<c>-e</c>) on the remote rsync route: instead of reaching another
/// machine, it hands its standard input and output to this process, which relays them through the DeltaSnap session to
/// <c>rsync --server</c> on the machine that holds the tree (Incus connects rsync to its websocket the same way with
/// <c>incusd netcat</c>). It needs nothing beyond <c>/bin/sh</c> and <c>cat</c>: a private directory (mode 0700) holds
/// three FIFOs — <c>args</c>, where the shell writes the server command line rsync gave it (NUL-separated), <c>up</c>
/// (rsync's words to the server) and <c>down</c> (the server's answers). The shell ends when <c>down</c> ends, as ssh
/// ends when the remote command does; rsync waits for it.
/// </summary>
internal sealed class RsyncRemoteShell : IDisposable
{
    // $0 is the directory; "$@" are the host, the program and the server command line rsync appends.
    // Background commands of a non-interactive shell read /dev/null, so rsync's pipe is kept as fd 3 for the copy to "up".
    private const string Script =
        "exec 3<&0; printf \"%s\\0\" \"$@\" >\"$0/args\" || exit 1; cat <&3 >\"$0/up\" & exec 3<&-; cat \"$0/down\"; kill $! 2>/dev/null";

    private const int MaxArgumentBytes = 64 << 10;

    private RsyncRemoteShell(string directory) => Directory = directory;

    /// <summary>The private directory of the FIFOs.</summary>
    public string Directory { get; }

    /// <summary>The value of rsync's <c>-e</c> (rsync splits it at spaces outside quotes; the script holds no single quote).</summary>
    public string Command => $"/bin/sh -c '{Script}' {Directory}";

    private string ArgumentsFifo => Path.Combine(Directory, "args");

    private string UpFifo => Path.Combine(Directory, "up");

    private string DownFifo => Path.Combine(Directory, "down");

    /// <summary>Makes the directory and its FIFOs.</summary>
    /// <exception cref="IOException">A FIFO could not be made, or the temporary directory's path has characters rsync's <c>-e</c> cannot carry.</exception>
    public static RsyncRemoteShell Create()
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("deltasnap-rsync-").FullName;
        var shell = new RsyncRemoteShell(directory);
        try
        {
            if (directory.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-')))
            {
                throw new IOException($"The temporary directory '{directory}' has characters that rsync's remote-shell option cannot carry; set TMPDIR to a plain path.");
            }
            foreach (var fifo in (string[])[shell.ArgumentsFifo, shell.UpFifo, shell.DownFifo])
            {
                if (NativeMethods.MakeFifo(fifo, 0x180) != 0)
                {
                    throw new IOException($"mkfifo {fifo} failed: {System.Runtime.InteropServices.Marshal.GetLastPInvokeErrorMessage()}");
                }
            }
            return shell;
        }
        catch
        {
            shell.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The server command line rsync gave its remote shell, without the host and the program (<c>--server …</c>);
    /// waits until the shell has written it. <paramref name="cancellationToken"/> also ends the wait when rsync ends first.
    /// </summary>
    /// <exception cref="IOException">The shell wrote something that is not a command line for <see cref="RsyncServerArguments.Host"/>.</exception>
    public async Task<IReadOnlyList<string>> ReadServerArgumentsAsync(CancellationToken cancellationToken)
    {
        byte[] bytes;
        var stream = await OpenAsync(ArgumentsFifo, FileAccess.Read, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[4096];
            int n;
            while ((n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                buffer.Write(chunk, 0, n);
                if (buffer.Length > MaxArgumentBytes)
                {
                    throw new IOException($"rsync gave its remote shell more than {MaxArgumentBytes} bytes of arguments.");
                }
            }
            bytes = buffer.ToArray();
        }
        var words = Encoding.UTF8.GetString(bytes).Split('\0');
        // printf ends every word with a NUL: the last piece is empty.
        if (words.Length < 4 || words[^1].Length != 0 || words[0] != RsyncServerArguments.Host)
        {
            throw new IOException($"rsync gave its remote shell '{string.Join(' ', words).Trim()}', not a command for {RsyncServerArguments.Host}.");
        }
        return words[2..^1];
    }

    /// <summary>Copies what rsync writes to its remote shell into <paramref name="destination"/> (the server's standard input) until the shell ends.</summary>
    public async Task CopyUpAsync(Stream destination, CancellationToken cancellationToken)
    {
        var fifo = await OpenAsync(UpFifo, FileAccess.Read, cancellationToken).ConfigureAwait(false);
        await using (fifo.ConfigureAwait(false))
        {
            await fifo.CopyToAsync(destination, 256 << 10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Copies <paramref name="source"/> (the server's standard output) to rsync's remote shell, then ends it (which ends
    /// the shell). When rsync has stopped reading (it ended: its exit code tells how), the rest is read and dropped, as
    /// ssh drops what arrives for a client that is gone; a failure of the source is thrown.
    /// </summary>
    public async Task CopyDownAsync(Stream source, CancellationToken cancellationToken)
    {
        var fifo = await OpenAsync(DownFifo, FileAccess.Write, cancellationToken).ConfigureAwait(false);
        var buffer = new byte[256 << 10];
        var reading = true;
        await using (fifo.ConfigureAwait(false))
        {
            int n;
            while ((n = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (!reading)
                {
                    continue;
                }
                try
                {
                    await fifo.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                }
                catch (IOException)
                {
                    reading = false;
                }
            }
        }
    }

    /// <summary>
    /// Opens one end of a FIFO, which waits for the other end. Cancelling opens the FIFO for reading and writing (which
    /// never waits on Linux) until the waiting open has returned, and then throws.
    /// </summary>
    private static async Task<FileStream> OpenAsync(string path, FileAccess access, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var opening = Task.Factory.StartNew(() => new FileStream(File.OpenHandle(path, FileMode.Open, access, FileShare.ReadWrite), access, bufferSize: 0),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        FileStream stream;
        using (cancellationToken.Register(() => _ = ReleaseAsync(path, opening)))
        {
            stream = await opening.ConfigureAwait(false);
        }
        if (cancellationToken.IsCancellationRequested)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
        return stream;
    }

    private static async Task ReleaseAsync(string path, Task opening)
    {
        while (!opening.IsCompleted)
        {
            try
            {
                File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite).Dispose();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone (disposed meanwhile): the open waiting on it failed too.
            }
            await Task.WhenAny(opening, Task.Delay(20)).ConfigureAwait(false);
        }
    }

    /// <summary>Removes the directory and its FIFOs.</summary>
    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left in the temporary directory; nothing holds it.
        }
    }
}
