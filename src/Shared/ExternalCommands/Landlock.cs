using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DeltaSnap.ExternalCommands;

/// <summary>
/// Starts a process confined by Linux Landlock (kernel 5.13 and later): it may change the file system only beneath
/// the directories it is given, with the rights it is given there, and reads as before.
/// </summary>
/// <remarks>
/// <para>
/// A Landlock domain belongs to the thread that enforces it and to the processes that thread starts. .NET runs no code
/// in a child between <c>fork</c> and <c>exec</c>, so the confinement is enforced on a thread of its own, which then
/// starts the process (the child inherits the thread's domain, and keeps it across <c>exec</c>) and ends. No other
/// thread of this process is confined.
/// </para>
/// <para>
/// Only the rights that change the file system are handled (write, truncate, make, remove, link or rename across
/// directories); reading, listing and executing stay free, so the program still finds its libraries, locale and
/// <c>/etc</c> files. The kernel's ABI version decides which of these rights exist: REFER (linking across directories)
/// from ABI 2, TRUNCATE from ABI 3; each is handled when the kernel has it.
/// </para>
/// </remarks>
internal static partial class Landlock
{
    // include/uapi/linux/landlock.h
    public const ulong WriteFile = 1UL << 1;
    public const ulong RemoveDirectory = 1UL << 4;
    public const ulong RemoveFile = 1UL << 5;
    public const ulong MakeCharacterDevice = 1UL << 6;
    public const ulong MakeDirectory = 1UL << 7;
    public const ulong MakeRegularFile = 1UL << 8;
    public const ulong MakeSocket = 1UL << 9;
    public const ulong MakeFifo = 1UL << 10;
    public const ulong MakeBlockDevice = 1UL << 11;
    public const ulong MakeSymbolicLink = 1UL << 12;
    public const ulong Refer = 1UL << 13;
    public const ulong Truncate = 1UL << 14;

    /// <summary>Every right that changes the file system, as far as ABI 1 has them.</summary>
    private const ulong ChangesV1 = WriteFile | RemoveDirectory | RemoveFile | MakeCharacterDevice | MakeDirectory | MakeRegularFile
        | MakeSocket | MakeFifo | MakeBlockDevice | MakeSymbolicLink;

    /// <summary>Every right that changes the file system (what a written tree is granted).</summary>
    public const ulong AllChanges = ChangesV1 | Refer | Truncate;

    private const int SysCreateRuleset = 444; // the same on x86-64 and arm64 (syscalls from 424 on are numbered alike)
    private const int SysAddRule = 445;
    private const int SysRestrictSelf = 446;
    private const uint CreateRulesetVersion = 1;
    private const int RulePathBeneath = 1;
    private const int PrSetNoNewPrivs = 38;
    private const int OpenPath = 0x200000; // O_PATH
    private const int OpenCloseOnExec = 0x80000; // O_CLOEXEC

    private static readonly Lazy<int> Abi = new(QueryAbi);

    /// <summary>The kernel's Landlock ABI version; 0 when it has none (too old, not built in, or turned off at boot).</summary>
    public static int AbiVersion => Abi.Value;

    /// <summary>Whether processes can be confined here.</summary>
    public static bool IsAvailable => AbiVersion >= 1;

    /// <summary>
    /// The rights of <paramref name="rights"/> that this kernel knows. REFER is always denied when not handled, so a
    /// kernel of ABI 1 cannot allow links across directories at all.
    /// </summary>
    public static ulong Supported(ulong rights) => rights & (AbiVersion switch
    {
        >= 3 => AllChanges,
        2 => ChangesV1 | Refer,
        1 => ChangesV1,
        _ => 0,
    });

    /// <summary>
    /// Starts <paramref name="info"/> confined: it may change the file system only beneath the paths of
    /// <paramref name="rules"/>, each with its rights, and write to <c>/dev/null</c> (which changes nothing).
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">The kernel has no Landlock.</exception>
    /// <exception cref="IOException">A path of the rules could not be opened, or the kernel refused the confinement.</exception>
    public static Process? Start(ProcessStartInfo info, IReadOnlyList<(string Path, ulong Rights)> rules)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(rules);
        if (!IsAvailable)
        {
            throw new PlatformNotSupportedException("This kernel has no Landlock (Linux 5.13 or later with CONFIG_SECURITY_LANDLOCK and 'landlock' in its lsm= list).");
        }
        Process? process = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                ConfineThisThread(rules);
                process = Process.Start(info);
            }
            catch (Exception e)
            {
                failure = e;
            }
        })
        {
            IsBackground = true,
            Name = "DeltaSnap Landlock start",
        };
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        }
        return process;
    }

    /// <summary>Confines the calling thread (for good: only call it on a thread that ends afterwards).</summary>
    private static void ConfineThisThread(IReadOnlyList<(string Path, ulong Rights)> rules)
    {
        var handled = Supported(AllChanges);
        var ruleset = (int)SyscallWith(SysCreateRuleset, in handled, sizeof(ulong), 0);
        if (ruleset < 0)
        {
            throw Failure("landlock_create_ruleset");
        }
        using var rulesetHandle = new SafeFileHandle(ruleset, ownsHandle: true);
        foreach (var (path, rights) in rules.Append(("/dev/null", WriteFile)))
        {
            var allowed = rights & handled;
            if (allowed == 0)
            {
                continue;
            }
            var fd = Open(path, OpenPath | OpenCloseOnExec, 0);
            if (fd < 0)
            {
                throw Failure($"opening {path} for a Landlock rule");
            }
            using var pathHandle = new SafeFileHandle(fd, ownsHandle: true);
            var attribute = new PathBeneathAttribute { AllowedAccess = allowed, ParentFd = fd };
            if (SyscallWith(SysAddRule, ruleset, RulePathBeneath, in attribute, 0) < 0)
            {
                throw Failure($"landlock_add_rule for {path}");
            }
        }
        // Required of a thread without CAP_SYS_ADMIN; a confined program gains no privileges through exec either way.
        if (Prctl(PrSetNoNewPrivs, 1, 0, 0, 0) < 0)
        {
            throw Failure("prctl(PR_SET_NO_NEW_PRIVS)");
        }
        if (Syscall(SysRestrictSelf, ruleset, 0, 0, 0) < 0)
        {
            throw Failure("landlock_restrict_self");
        }
    }

    private static int QueryAbi()
    {
        if (!OperatingSystem.IsLinux())
        {
            return 0;
        }
        try
        {
            var version = Syscall(SysCreateRuleset, 0, 0, (nint)CreateRulesetVersion, 0);
            return version < 0 ? 0 : (int)version;
        }
        catch (EntryPointNotFoundException)
        {
            return 0;
        }
    }

    private static IOException Failure(string what)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"Landlock: {what} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
    }

    /// <summary><c>struct landlock_path_beneath_attr</c> (packed).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    private struct PathBeneathAttribute
    {
        public ulong AllowedAccess;
        public int ParentFd;
    }

    // syscall(2) is variadic in C; glibc's is an assembly stub that only moves registers, so a fixed signature is safe
    // on x86-64 and arm64.
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial nint Syscall(nint number, nint argument1, nint argument2, nint argument3, nint argument4);

    /// <summary><c>syscall(number, &amp;attribute, a2, a3)</c>: landlock_create_ruleset.</summary>
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial nint SyscallWith(nint number, in ulong attribute, nint argument2, nint argument3);

    /// <summary><c>syscall(number, a1, a2, &amp;attribute, a4)</c>: landlock_add_rule.</summary>
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial nint SyscallWith(nint number, nint argument1, nint argument2, in PathBeneathAttribute attribute, nint argument4);

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, nuint argument2, nuint argument3, nuint argument4, nuint argument5);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);
}
