namespace DeltaSnap.Lvol;

/// <summary>Errno texts and the errors SPDK's lvol RPC handlers answer with.</summary>
internal static class SpdkErrno
{
    /// <summary>The C library's message for an errno, as SPDK's spdk_strerror gives it.</summary>
    public static string Strerror(LvolErrno errno) => errno switch
    {
        LvolErrno.EPERM => "Operation not permitted",
        LvolErrno.ENOENT => "No such file or directory",
        LvolErrno.ESRCH => "No such process",
        LvolErrno.EINTR => "Interrupted system call",
        LvolErrno.EIO => "Input/output error",
        LvolErrno.EBUSY => "Device or resource busy",
        LvolErrno.EEXIST => "File exists",
        LvolErrno.ENODEV => "No such device",
        LvolErrno.EINVAL => "Invalid argument",
        LvolErrno.ENOSPC => "No space left on device",
        LvolErrno.ECANCELED => "Operation canceled",
        _ => $"Unknown error {(int)errno}",
    };

    /// <summary>A synchronous errno of a handler: the negative errno with its text.</summary>
    public static JsonRpcErrorException Sync(LvolErrno errno) => new(-(int)errno, Strerror(errno));

    /// <summary>A failure found after the request was accepted: a JSON-RPC code with the errno's text.</summary>
    public static JsonRpcErrorException Later(int code, LvolErrno errno) => new(code, Strerror(errno));

    /// <summary>Runs an asynchronous step of a method; a store failure becomes <paramref name="code"/> with the errno's text.</summary>
    public static async Task<T> LaterAsync<T>(int code, Func<Task<T>> step)
    {
        try
        {
            return await step().ConfigureAwait(false);
        }
        catch (LvolException e)
        {
            throw new JsonRpcErrorException(code, Strerror(e.Errno), e);
        }
    }

    /// <summary>Runs an asynchronous step of a method; a store failure becomes <paramref name="code"/> with the errno's text.</summary>
    public static async Task LaterAsync(int code, Func<Task> step)
    {
        try
        {
            await step().ConfigureAwait(false);
        }
        catch (LvolException e)
        {
            throw new JsonRpcErrorException(code, Strerror(e.Errno), e);
        }
    }
}
