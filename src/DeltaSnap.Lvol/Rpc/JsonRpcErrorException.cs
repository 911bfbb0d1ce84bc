namespace DeltaSnap.Lvol;

/// <summary>A method handler's answer that is an error: the exact code and message to send.</summary>
internal sealed class JsonRpcErrorException : Exception
{
    public JsonRpcErrorException()
        : this(LvolRpcServer.InternalError, "Internal error")
    {
    }

    public JsonRpcErrorException(string message)
        : this(LvolRpcServer.InternalError, message)
    {
    }

    public JsonRpcErrorException(string message, Exception? innerException)
        : this(LvolRpcServer.InternalError, message, innerException)
    {
    }

    public JsonRpcErrorException(int code, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
    }

    /// <summary>The JSON-RPC error code: a JSON-RPC code or a negative errno.</summary>
    public int Code { get; }
}
