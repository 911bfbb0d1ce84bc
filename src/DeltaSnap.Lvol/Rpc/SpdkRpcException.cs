namespace DeltaSnap.Lvol;

/// <summary>A JSON-RPC call was answered with an error: a JSON-RPC code (-32700…-32600) or SPDK's negative errno.</summary>
public sealed class SpdkRpcException : DeltaSnapException
{
    /// <summary>Creates the exception.</summary>
    public SpdkRpcException()
    {
        Method = "";
    }

    /// <summary>Creates the exception with a message.</summary>
    public SpdkRpcException(string message)
        : base(message)
    {
        Method = "";
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public SpdkRpcException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Method = "";
    }

    /// <summary>Creates the exception for a failed call.</summary>
    public SpdkRpcException(string method, int code, string message, Exception? innerException = null)
        : base(string.IsNullOrEmpty(method) ? $"JSON-RPC error {code}: {message}" : $"{method} failed with {code}: {message}", innerException)
    {
        Method = method;
        Code = code;
        ServerMessage = message;
    }

    /// <summary>The method called.</summary>
    public string Method { get; }

    /// <summary>The error code: a JSON-RPC code, or a negative errno.</summary>
    public int Code { get; }

    /// <summary>The server's message.</summary>
    public string? ServerMessage { get; }

    /// <summary>The errno, when the code is one (SPDK's negative errno values), else null.</summary>
    public LvolErrno? Errno => Code is < 0 and > -4096 ? (LvolErrno)(-Code) : null;
}
