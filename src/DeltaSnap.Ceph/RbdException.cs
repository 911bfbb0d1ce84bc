using System.Runtime.InteropServices;

namespace DeltaSnap.Ceph;

/// <summary>
/// A librados or librbd call failed. Carries the call (with the pool, image or snapshot it was about), the
/// errno and the system's message for it. Lost connections and timeouts are <see cref="IsTransient"/>.
/// </summary>
public sealed class RbdException : DeltaSnapException
{
    private static readonly int[] TransientErrors =
    [
        LinuxErrno.Eintr, LinuxErrno.Eagain, LinuxErrno.Enetdown, LinuxErrno.Enetunreach, LinuxErrno.Econnaborted, LinuxErrno.Econnreset,
        LinuxErrno.Enotconn, LinuxErrno.Eshutdown, LinuxErrno.Etimedout, LinuxErrno.Econnrefused, LinuxErrno.Ehostdown, LinuxErrno.Ehostunreach,
    ];

    /// <summary>Creates the exception.</summary>
    public RbdException()
        : this("An RBD call failed.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public RbdException(string message)
        : base(message)
    {
        Call = "";
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public RbdException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Call = "";
    }

    /// <summary>Creates the exception for a failed call.</summary>
    /// <param name="call">The call and what it was about, e.g. <c>rbd_open(rbd/vm1@snap1)</c>.</param>
    /// <param name="errno">The positive errno (librados and librbd return it negated).</param>
    public RbdException(string call, int errno)
        : base($"{call} failed: {Describe(errno)} (errno {Math.Abs(errno)}).")
    {
        Call = call;
        Errno = Math.Abs(errno);
    }

    /// <summary>The call that failed, with its subject.</summary>
    public string Call { get; }

    /// <summary>The positive errno the call returned.</summary>
    public int Errno { get; }

    /// <summary>The system's message for <see cref="Errno"/>.</summary>
    public string ErrorMessage => Describe(Errno);

    /// <summary>Whether retrying may succeed: a timeout, a lost or refused connection, an interrupted call.</summary>
    public override bool IsTransient => Array.IndexOf(TransientErrors, Errno) >= 0;

    /// <summary>Whether <paramref name="errno"/> (positive or negated) is one of the transient errors.</summary>
    public static bool IsTransientErrno(int errno) => Array.IndexOf(TransientErrors, Math.Abs(errno)) >= 0;

    private static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(Math.Abs(errno));
}

/// <summary>The Linux errno values the driver looks at.</summary>
internal static class LinuxErrno
{
    public const int Eperm = 1;
    public const int Enoent = 2;
    public const int Eintr = 4;
    public const int Eio = 5;
    public const int Eagain = 11;
    public const int Ebusy = 16;
    public const int Eexist = 17;
    public const int Einval = 22;
    public const int Erange = 34;
    public const int Enetdown = 100;
    public const int Enetunreach = 101;
    public const int Econnaborted = 103;
    public const int Econnreset = 104;
    public const int Enotconn = 107;
    public const int Eshutdown = 108;
    public const int Etimedout = 110;
    public const int Econnrefused = 111;
    public const int Ehostdown = 112;
    public const int Ehostunreach = 113;
}
