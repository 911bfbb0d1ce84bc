using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Lvol;

/// <summary>
/// One client connection: reads requests through the shared <see cref="JsonValueFramer"/>, runs them concurrently
/// (a checksum registration must not block its own stop request) within the connection's bounds, and writes each
/// response whole. A request that is not JSON, nests too deep or exceeds the size limit is answered with a parse
/// error and the connection is closed after the requests still running have answered.
/// </summary>
internal sealed class JsonRpcConnection(JsonRpcDispatcher dispatcher, LvolRpcServerOptions options, ILogger logger)
{
    private static readonly byte[] Newline = "\n"u8.ToArray();

    public async Task ServeAsync(Socket socket, CancellationToken cancellationToken)
    {
        var stream = new NetworkStream(socket, ownsSocket: true);
        await using var streamScope = stream.ConfigureAwait(false);
        using var writeLock = new SemaphoreSlim(1, 1);
        using var slots = new SemaphoreSlim(options.MaxPendingRequestsPerConnection, options.MaxPendingRequestsPerConnection);
        var budget = new RequestByteBudget(options.MaxRequestBytes);
        var framer = new JsonValueFramer(options.MaxRequestBytes, options.MaxNestingDepth);
        var pending = new List<Task>();
        try
        {
            var open = true;
            while (open && !cancellationToken.IsCancellationRequested)
            {
                var read = await stream.ReadAsync(framer.GetWriteBuffer(), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                framer.Advance(read);
                while (open)
                {
                    var result = framer.TryTake(out var value);
                    if (result == JsonValueFramer.Result.NeedMore)
                    {
                        break;
                    }
                    var document = result == JsonValueFramer.Result.Value ? dispatcher.TryParse(value) : null;
                    if (document is null)
                    {
                        await SendAsync(stream, writeLock, dispatcher.ParseErrorResponse(), cancellationToken).ConfigureAwait(false);
                        open = false;
                        break;
                    }
                    try
                    {
                        await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
                        await budget.TakeAsync(value.Length, cancellationToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        document.Dispose();
                        throw;
                    }
                    pending.RemoveAll(t => t.IsCompleted);
                    pending.Add(RunAsync(document, value.Length));
                }
                if (open && framer.Overflowed)
                {
                    Log.RpcRequestTooLarge(logger, options.MaxRequestBytes);
                    await SendAsync(stream, writeLock, dispatcher.ParseErrorResponse(), cancellationToken).ConfigureAwait(false);
                    open = false;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            if (e is not OperationCanceledException)
            {
                Log.RpcConnectionFailed(logger, e);
            }
        }
        finally
        {
            await Task.WhenAll(pending).ConfigureAwait(false);
        }

        async Task RunAsync(System.Text.Json.JsonDocument document, int bytes)
        {
            await Task.Yield();
            try
            {
                byte[]? response;
                using (document)
                {
                    response = await dispatcher.DispatchAsync(document, cancellationToken).ConfigureAwait(false);
                }
                if (response is not null)
                {
                    await SendAsync(stream, writeLock, response, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
                // The server stops or the client left: nobody is there to answer.
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Log.RpcConnectionFailed(logger, e); // the answer could not be written; the connection goes on
            }
            finally
            {
                budget.Return(bytes);
                slots.Release();
            }
        }
    }

    private static async Task SendAsync(Stream stream, SemaphoreSlim writeLock, byte[] response, CancellationToken cancellationToken)
    {
        await writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await stream.WriteAsync(response, cancellationToken).ConfigureAwait(false);
            await stream.WriteAsync(Newline, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            writeLock.Release();
        }
    }
}
