using System.Diagnostics;
using System.Text;
using DeltaSnap.ExternalCommands;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Remote.Transports;

/// <summary>
/// A running <c>ssh</c> as one duplex stream: writes go to its standard input, reads come from its standard output.
/// Its standard error is kept (the last 16 Ki characters) and put into the error when the connection fails: when ssh
/// ends with a failure, a read that meets the end of its output, or a write into its closed input, throws
/// <see cref="PeerRefusedException"/> (the login was refused) or <see cref="PeerUnreachableException"/> with what ssh
/// said. Disposing it (or cancelling an operation on it) kills ssh.
/// </summary>
public sealed class SshStream : Stream
{
    private const int StandardErrorTailChars = 16 * 1024;

    private readonly Process _process;
    private readonly Stream _input;
    private readonly Stream _output;
    private readonly ILogger _logger;
    private readonly StringBuilder _stderr = new();
    private readonly Lock _stderrLock = new();
    private readonly Task _stderrRead;
    private readonly Task _exited;
    private bool _stderrCut;
    private int _disposed;

    internal SshStream(Process process, string peer, string commandLine, ILogger logger)
    {
        _process = process;
        _input = process.StandardInput.BaseStream;
        _output = process.StandardOutput.BaseStream;
        _logger = logger;
        Peer = peer;
        CommandLine = commandLine;
        _stderrRead = Task.Run(() => ReadStandardErrorAsync(process.StandardError));
        _exited = process.WaitForExitAsync(CancellationToken.None);
    }

    /// <summary>The peer, as <c>[user@]host[:port]</c>.</summary>
    public string Peer { get; }

    /// <summary>The ssh command line, for messages (not for a shell).</summary>
    public string CommandLine { get; }

    /// <summary>The process id of ssh.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Whether ssh has ended.</summary>
    public bool HasExited => _exited.IsCompleted;

    /// <summary>What ssh (and the remote command) wrote to standard error so far: its last 16 Ki characters.</summary>
    public string StandardError
    {
        get
        {
            lock (_stderrLock)
            {
                return (_stderrCut ? "…" : "") + _stderr.ToString();
            }
        }
    }

    /// <inheritdoc />
    public override bool CanRead => true;

    /// <inheritdoc />
    public override bool CanWrite => true;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc />
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>
    /// The failure to report when the connection broke: what ssh's exit code and standard error say, waiting up to
    /// <paramref name="wait"/> for ssh to end. <see cref="PeerRefusedException"/> when the login was refused.
    /// </summary>
    public async Task<DeltaSnapException> DescribeFailureAsync(TimeSpan wait, Exception? cause = null)
    {
        await Task.WhenAny(_exited, Task.Delay(wait)).ConfigureAwait(false);
        if (_exited.IsCompleted)
        {
            await Task.WhenAny(_stderrRead, Task.Delay(TimeSpan.FromMilliseconds(500))).ConfigureAwait(false);
        }
        var said = StandardError.Trim().ReplaceLineEndings(" ");
        var status = _exited.IsCompleted ? $"ended with exit code {_process.ExitCode}" : "stopped answering";
        var message = $"ssh to {Peer} {status}" + (said.Length > 0 ? $": {said}" : cause is null ? "" : $" ({TlsTransport.Inner(cause)})");
        if (said.Contains("Permission denied", StringComparison.Ordinal) || said.Contains("Host key verification failed", StringComparison.Ordinal)
            || said.Contains("not authorized", StringComparison.OrdinalIgnoreCase))
        {
            return new PeerRefusedException(message, cause);
        }
        return new PeerUnreachableException(message, cause);
    }

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n;
        try
        {
            n = await _output.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw await DescribeFailureAsync(TimeSpan.FromSeconds(2), e).ConfigureAwait(false);
        }
        if (n == 0 && buffer.Length > 0)
        {
            // The end of ssh's output: a clean end only when ssh ended well.
            await Task.WhenAny(_exited, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
            if (!_exited.IsCompleted || _process.ExitCode != 0)
            {
                throw await DescribeFailureAsync(TimeSpan.Zero).ConfigureAwait(false);
            }
        }
        return n;
    }

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            await _input.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw await DescribeFailureAsync(TimeSpan.FromSeconds(2), e).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override void Flush() => _input.Flush();

    /// <inheritdoc />
    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _input.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw await DescribeFailureAsync(TimeSpan.FromSeconds(2), e).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Closes ssh's input (the remote command sees the end of its input), gives ssh a moment to end, then kills it.</summary>
    public override async ValueTask DisposeAsync()
    {
        await CloseAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            CloseAsync().GetAwaiter().GetResult();
        }
        base.Dispose(disposing);
    }

    private async Task CloseAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            await _input.DisposeAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // ssh is gone already.
        }
        await Task.WhenAny(_exited, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        ExternalCommandRunner.Kill(_process);
        await _exited.ConfigureAwait(false);
        await _stderrRead.ConfigureAwait(false);
        Log.SshEnded(_logger, Peer, _process.ExitCode);
        await _output.DisposeAsync().ConfigureAwait(false);
        _process.Dispose();
    }

    private async Task ReadStandardErrorAsync(StreamReader reader)
    {
        var buffer = new char[4096];
        try
        {
            int n;
            while ((n = await reader.ReadAsync(buffer.AsMemory(), CancellationToken.None).ConfigureAwait(false)) > 0)
            {
                lock (_stderrLock)
                {
                    _stderr.Append(buffer, 0, n);
                    if (_stderr.Length > StandardErrorTailChars)
                    {
                        _stderr.Remove(0, _stderr.Length - StandardErrorTailChars);
                        _stderrCut = true;
                    }
                }
            }
        }
        catch (IOException)
        {
            // The pipe broke with the process: what was read is kept.
        }
    }
}
