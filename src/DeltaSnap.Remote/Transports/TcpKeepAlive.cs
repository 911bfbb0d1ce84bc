using System.Net.Sockets;

namespace DeltaSnap.Remote.Transports;

/// <summary>TCP keep-alive on a session's socket, so that a peer that vanished is noticed by the kernel too (the session's heartbeats notice it first).</summary>
internal static class TcpKeepAlive
{
    public static void Enable(Socket socket)
    {
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 15);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 5);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 3);
        }
        catch (SocketException)
        {
            // Best effort: not every platform takes every option.
        }
    }
}
