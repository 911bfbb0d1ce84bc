using System.Runtime.InteropServices;

namespace DeltaSnap.Cli;

/// <summary>
/// Keeps the tool from reading the system's certificate store, which it never trusts: every TLS peer is trusted through
/// <c>--tls-trust</c> (pinned fingerprints or the authorities named), and the system's roots never decide anything. Yet
/// .NET on Linux reads the whole store (OpenSSL's default file and directory, about 150 certificates) at the first
/// certificate chain it builds in a process — inside the first TLS handshake — which costs about 70 ms of every
/// <c>deltasnap</c> run that talks to a <c>tls://</c> peer. Pointing OpenSSL's default store at nothing, through the
/// variables OpenSSL documents for it (<c>SSL_CERT_FILE</c>, <c>SSL_CERT_DIR</c>), removes that.
/// </summary>
/// <remarks>
/// Also when the user has set them: no store decides trust in this tool, whichever it names. The variables change in the
/// native environment only, which is where .NET's crypto shim reads them: the managed copy of the environment, from which
/// the programs the tool starts (zfs, btrfs, rsync, ssh) get theirs, is taken first, so they see the user's values.
/// </remarks>
internal static partial class OpenSslDefaultTrust
{
    private const string FileVariable = "SSL_CERT_FILE";
    private const string DirectoryVariable = "SSL_CERT_DIR";

    /// <summary>Points OpenSSL's default trust store at nothing for this process.</summary>
    public static void Ignore()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        // Reading the whole environment makes .NET take its managed copy now, before the native one changes.
        _ = Environment.GetEnvironmentVariables();
        try
        {
            // /dev/null: an empty file; a directory that does not exist: no hashed certificates.
            _ = SetEnv(FileVariable, "/dev/null", 1);
            _ = SetEnv(DirectoryVariable, "/nonexistent/deltasnap-trusts-only-its-options", 1);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc or musl: the store is read, as before.
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
