using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace DeltaSnap.Testing;

/// <summary>What a <see cref="TreeDigest"/> covers beyond names, types and data.</summary>
public sealed record TreeDigestOptions
{
    /// <summary>Everything: extended attributes and ACLs, nanosecond times, owners, modes, holes.</summary>
    public static TreeDigestOptions Full { get; } = new();

    /// <summary>Extended attributes, POSIX ACLs included (they are the <c>system.posix_acl_*</c> attributes).</summary>
    public bool ExtendedAttributes { get; init; } = true;

    /// <summary>Modification times of files, links and directories (the root's included) to the nanosecond; false compares whole seconds.</summary>
    public bool NanosecondTimes { get; init; } = true;

    /// <summary>Modification times at all.</summary>
    public bool Times { get; init; } = true;

    /// <summary>Whether each large file is sparse (allocates less than half its length): holes preserved or filled.</summary>
    public bool Sparseness { get; init; } = true;
}

/// <summary>
/// A digest of a directory tree: every entry's relative name and type; permissions (with set-id and sticky
/// bits), numeric owner and group; modification time; size and SHA-256 of a file's bytes; whether a large file
/// is sparse; symbolic-link targets (dangling ones too); device numbers; which entries are hard links of one
/// another; extended attributes and POSIX ACLs (names and values). Two trees with equal digests hold the same
/// thing. Reads through <c>lstat</c>/<c>llistxattr</c>, never following links.
/// </summary>
public static partial class TreeDigest
{
    /// <summary>One line per entry (the root first, as <c>.</c>), sorted by path, covering everything.</summary>
    public static IReadOnlyList<string> Describe(string root) => Describe(root, TreeDigestOptions.Full);

    /// <summary>One line per entry, sorted by path, covering what <paramref name="options"/> asks.</summary>
    public static IReadOnlyList<string> Describe(string root, TreeDigestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var lines = new List<string> { Line(root, ".", options, new Dictionary<(ulong, ulong), string>()) };
        var links = new Dictionary<(ulong Dev, ulong Ino), string>();
        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions
                 {
                     RecurseSubdirectories = true,
                     AttributesToSkip = 0,
                     IgnoreInaccessible = false,
                     ReturnSpecialDirectories = false,
                 }).Order(StringComparer.Ordinal))
        {
            lines.Add(Line(path, Path.GetRelativePath(root, path), options, links));
        }
        return lines;
    }

    /// <summary>The SHA-256 of <see cref="Describe(string)"/>'s lines.</summary>
    public static string Compute(string root) => Compute(root, TreeDigestOptions.Full);

    /// <summary>The SHA-256 of <see cref="Describe(string, TreeDigestOptions)"/>'s lines.</summary>
    public static string Compute(string root, TreeDigestOptions options) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', Describe(root, options)))));

    private static string Line(string path, string relative, TreeDigestOptions options, Dictionary<(ulong, ulong), string> links)
    {
        var st = Stat(path);
        var type = st.Mode & 0xF000;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{relative} mode={Convert.ToString(st.Mode & 0xFFF, 8)} uid={st.Uid} gid={st.Gid}");
        if (options.Times)
        {
            var nanos = options.NanosecondTimes ? st.MtimeNanos : 0;
            sb.Append(CultureInfo.InvariantCulture, $" mtime={st.MtimeSeconds}.{nanos:D9}");
        }
        switch (type)
        {
            case 0x4000:
                sb.Insert(0, "D ");
                break;
            case 0xA000:
                sb.Insert(0, "L ");
                sb.Append(" -> ").Append(new FileInfo(path).LinkTarget);
                break;
            case 0x8000:
                sb.Insert(0, "F ");
                if (st.Nlink > 1)
                {
                    if (links.TryGetValue((st.Dev, st.Ino), out var first))
                    {
                        sb.Append(" hardlink-of=").Append(first);
                    }
                    else
                    {
                        links[(st.Dev, st.Ino)] = relative;
                    }
                }
                using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16))
                {
                    sb.Append(CultureInfo.InvariantCulture, $" size={st.Size} sha256={Convert.ToHexStringLower(SHA256.HashData(stream))}");
                }
                if (options.Sparseness && st.Size >= 1 << 20)
                {
                    // Block counts lag behind delayed allocation (Btrfs) until the file is flushed.
                    using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
                    {
                        _ = NativeCalls.FSync(handle);
                    }
                    sb.Append(Stat(path).Blocks * 512 < st.Size / 2 ? " sparse" : " dense");
                }
                break;
            case 0x2000 or 0x6000:
                sb.Insert(0, type == 0x2000 ? "C " : "B ");
                sb.Append(CultureInfo.InvariantCulture, $" rdev={st.Rdev:x}");
                break;
            case 0x1000:
                sb.Insert(0, "P ");
                break;
            case 0xC000:
                sb.Insert(0, "S ");
                break;
            default:
                sb.Insert(0, "? ");
                break;
        }
        if (options.ExtendedAttributes)
        {
            foreach (var (name, value) in ExtendedAttributes(path))
            {
                sb.Append(CultureInfo.InvariantCulture, $" xattr:{name}={Convert.ToHexStringLower(value)}");
            }
        }
        return sb.ToString();
    }

    /// <summary>The extended attributes of <paramref name="path"/> (not following a link), sorted by name; empty where the file system has none.</summary>
    public static IReadOnlyList<(string Name, byte[] Value)> ExtendedAttributes(string path)
    {
        var size = NativeCalls.LListXattr(path, null, 0);
        if (size < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno == 95 ? [] : throw new IOException($"llistxattr {path}: errno {errno}");
        }
        var names = new byte[size];
        size = NativeCalls.LListXattr(path, names, names.Length);
        var result = new List<(string, byte[])>();
        foreach (var name in Encoding.UTF8.GetString(names, 0, (int)Math.Max(0, size)).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            var length = NativeCalls.LGetXattr(path, name, null, 0);
            var value = new byte[Math.Max(0, length)];
            if (length > 0)
            {
                length = NativeCalls.LGetXattr(path, name, value, value.Length);
            }
            result.Add((name, value.AsSpan(0, (int)Math.Max(0, length)).ToArray()));
        }
        return result.OrderBy(x => x.Item1, StringComparer.Ordinal).ToArray();
    }

    /// <summary>What <c>lstat</c> says about <paramref name="path"/>.</summary>
    public static FileStatus Stat(string path)
    {
        var buffer = new byte[256];
        if (NativeCalls.LStat(path, buffer) != 0)
        {
            throw new IOException($"lstat {path}: errno {Marshal.GetLastPInvokeError()}");
        }
        // struct stat on x86_64 / aarch64 glibc differ; x86_64 layout here (the test machines are x86_64).
        var s = buffer.AsSpan();
        return new FileStatus(
            Dev: BitConverter.ToUInt64(s[0..8]),
            Ino: BitConverter.ToUInt64(s[8..16]),
            Nlink: BitConverter.ToUInt64(s[16..24]),
            Mode: BitConverter.ToUInt32(s[24..28]),
            Uid: BitConverter.ToUInt32(s[28..32]),
            Gid: BitConverter.ToUInt32(s[32..36]),
            Rdev: BitConverter.ToUInt64(s[40..48]),
            Size: BitConverter.ToInt64(s[48..56]),
            Blocks: BitConverter.ToInt64(s[64..72]),
            MtimeSeconds: BitConverter.ToInt64(s[88..96]),
            MtimeNanos: BitConverter.ToInt64(s[96..104]));
    }
}

/// <summary>The fields of <c>struct stat</c> a digest needs.</summary>
public readonly record struct FileStatus(ulong Dev, ulong Ino, ulong Nlink, uint Mode, uint Uid, uint Gid, ulong Rdev, long Size, long Blocks, long MtimeSeconds, long MtimeNanos);

/// <summary>The libc calls the tests need to build and read trees the BCL cannot (xattrs, devices, owners, nanosecond times).</summary>
public static partial class NativeCalls
{
    [LibraryImport("libc", EntryPoint = "lstat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int LStat(string path, [Out] byte[] buffer);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    internal static partial int FSync(Microsoft.Win32.SafeHandles.SafeFileHandle handle);

    [LibraryImport("libc", EntryPoint = "llistxattr", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial nint LListXattr(string path, [Out] byte[]? list, nint size);

    [LibraryImport("libc", EntryPoint = "lgetxattr", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial nint LGetXattr(string path, string name, [Out] byte[]? value, nint size);

    [LibraryImport("libc", EntryPoint = "lsetxattr", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int LSetXattrNative(string path, string name, byte[] value, nint size, int flags);

    [LibraryImport("libc", EntryPoint = "mknod", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int MknodNative(string path, uint mode, ulong dev);

    [LibraryImport("libc", EntryPoint = "lchown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int LChownNative(string path, uint uid, uint gid);

    [LibraryImport("libc", EntryPoint = "utimensat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int UtimensatNative(int dirfd, string path, long[] times, int flags);

    /// <summary>Sets an extended attribute (not following a link).</summary>
    public static void SetXattr(string path, string name, byte[] value)
    {
        ArgumentNullException.ThrowIfNull(value);
        Check(LSetXattrNative(path, name, value, value.Length, 0), "lsetxattr", path);
    }

    /// <summary>Sets a POSIX access ACL through <c>system.posix_acl_access</c>: owner, group and other from the mode, plus named users and groups with a mask.</summary>
    public static void SetAccessAcl(string path, int ownerPerm, int groupPerm, int otherPerm, IReadOnlyList<(uint Uid, int Perm)> users, IReadOnlyList<(uint Gid, int Perm)> groups)
    {
        ArgumentNullException.ThrowIfNull(users);
        ArgumentNullException.ThrowIfNull(groups);
        var entries = new List<(ushort Tag, ushort Perm, uint Id)> { (0x01, (ushort)ownerPerm, uint.MaxValue) };
        entries.AddRange(users.Select(u => ((ushort)0x02, (ushort)u.Perm, u.Uid)));
        entries.Add((0x04, (ushort)groupPerm, uint.MaxValue));
        entries.AddRange(groups.Select(g => ((ushort)0x08, (ushort)g.Perm, g.Gid)));
        var mask = users.Select(u => u.Perm).Concat(groups.Select(g => g.Perm)).Append(groupPerm).Aggregate(0, (a, b) => a | b);
        entries.Add((0x10, (ushort)mask, uint.MaxValue));
        entries.Add((0x20, (ushort)otherPerm, uint.MaxValue));
        var bytes = new byte[4 + (8 * entries.Count)];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 4), 2u);
        for (var i = 0; i < entries.Count; i++)
        {
            var at = 4 + (8 * i);
            BitConverter.TryWriteBytes(bytes.AsSpan(at, 2), entries[i].Tag);
            BitConverter.TryWriteBytes(bytes.AsSpan(at + 2, 2), entries[i].Perm);
            BitConverter.TryWriteBytes(bytes.AsSpan(at + 4, 4), entries[i].Id);
        }
        SetXattr(path, "system.posix_acl_access", bytes);
    }

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int LinkNative(string existing, string path);

    /// <summary>Makes <paramref name="path"/> a hard link of <paramref name="existing"/>.</summary>
    public static void HardLink(string existing, string path) => Check(LinkNative(existing, path), "link", path);

    /// <summary>Makes a FIFO.</summary>
    public static void MakeFifo(string path) => Check(MknodNative(path, 0x1000 | 0x1A4, 0), "mknod", path);

    /// <summary>Makes a character device (major, minor).</summary>
    public static void MakeCharDevice(string path, uint major, uint minor) =>
        Check(MknodNative(path, 0x2000 | 0x1A4, ((ulong)(major & 0xfff) << 8) | (minor & 0xff) | ((ulong)(minor & ~0xffu) << 12) | ((ulong)(major & ~0xfffu) << 32)), "mknod", path);

    /// <summary>Sets the numeric owner and group (not following a link).</summary>
    public static void LChown(string path, uint uid, uint gid) => Check(LChownNative(path, uid, gid), "lchown", path);

    /// <summary>Sets the modification (and access) time to the nanosecond (not following a link).</summary>
    public static void SetMtime(string path, long seconds, long nanoseconds) =>
        Check(UtimensatNative(-100, path, [seconds, nanoseconds, seconds, nanoseconds], 0x100), "utimensat", path);

    private static void Check(int result, string call, string path)
    {
        if (result != 0)
        {
            throw new IOException($"{call} {path}: errno {Marshal.GetLastPInvokeError()}");
        }
    }
}
