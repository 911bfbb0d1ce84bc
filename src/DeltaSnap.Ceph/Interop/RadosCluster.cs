using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using DeltaSnap.Ceph.Diagnostics;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Ceph.Interop;

/// <summary>
/// One connection to a Ceph cluster (<c>rados_t</c>) and its I/O contexts, one per pool (and namespace), kept
/// for the connection's lifetime. Thread-safe: librados handles may be shared by threads. Counted: each holder
/// takes a reference (<see cref="TryAddReference"/>) and disposes it; the last one shuts the connection down, and a
/// connection shut down takes no new reference.
/// </summary>
internal sealed class RadosCluster : IDisposable
{
    private const int ShutDown = -1;
    private readonly RadosClusterHandle _handle;
    private readonly ConcurrentDictionary<string, Lazy<RadosIoContextHandle>> _ioContexts = new(StringComparer.Ordinal);

    /// <summary>Holders; 0 for a connection nobody has taken yet, <see cref="ShutDown"/> once shut down.</summary>
    private int _references;

    private RadosCluster(RadosClusterHandle handle, string clientId)
    {
        _handle = handle;
        ClientId = clientId;
    }

    /// <summary>The client id connected as.</summary>
    public string ClientId { get; }

    /// <summary>Connects (on a pool thread: <c>rados_connect</c> blocks until the monitors answer or the mount timeout passes).</summary>
    /// <exception cref="RbdException">A librados call failed (no configuration, no monitor, bad key, timeout).</exception>
    public static Task<RadosCluster> ConnectAsync(CephConnectionOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.Run(() => Connect(options, logger), cancellationToken);
    }

    private static RadosCluster Connect(CephConnectionOptions options, ILogger logger)
    {
        var id = options.ResolveClientId();
        Check(LibRados.Create(out var handle, id), $"rados_create(client.{id})");
        try
        {
            var r = LibRados.ConfReadFile(handle, options.ConfigFile);
            if (r < 0)
            {
                // With no file given, a missing default file is fine when CEPH_ARGS or Settings name the monitors.
                if (options.ConfigFile is not null || -r != LinuxErrno.Enoent)
                {
                    throw new RbdException($"rados_conf_read_file({options.ConfigFile ?? Environment.GetEnvironmentVariable("CEPH_CONF") ?? "default search path"})", r);
                }
                Log.NoConfigFile(logger);
            }
            if (options.UseEnvironment)
            {
                Check(LibRados.ConfParseEnv(handle, null), "rados_conf_parse_env(CEPH_ARGS)");
                if (options.Keyring is null && Environment.GetEnvironmentVariable("CEPH_KEYRING") is { Length: > 0 } keyring)
                {
                    Set(handle, "keyring", keyring);
                }
            }
            if (options.Keyring is not null)
            {
                Set(handle, "keyring", options.Keyring);
            }
            if (options.ConnectTimeout is { } connect)
            {
                Set(handle, "client_mount_timeout", Seconds(connect));
            }
            if (options.OperationTimeout is { } op)
            {
                Set(handle, "rados_osd_op_timeout", Seconds(op));
                Set(handle, "rados_mon_op_timeout", Seconds(op));
            }
            foreach (var (key, value) in options.Settings)
            {
                Set(handle, key, value);
            }
            Check(LibRados.Connect(handle), $"rados_connect(client.{id})");
            Log.Connected(logger, id);
            return new RadosCluster(handle, id);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The I/O context of <paramref name="pool"/> (and <paramref name="nameSpace"/>), created on first use.</summary>
    /// <exception cref="RbdException">The pool does not exist (ENOENT) or another librados failure.</exception>
    public RadosIoContextHandle GetIoContext(string pool, string? nameSpace)
    {
        var key = nameSpace is null ? pool : pool + "/" + nameSpace;
        var lazy = _ioContexts.GetOrAdd(key, _ => new Lazy<RadosIoContextHandle>(() => CreateIoContext(pool, nameSpace)));
        try
        {
            return lazy.Value;
        }
        catch
        {
            _ioContexts.TryRemove(new KeyValuePair<string, Lazy<RadosIoContextHandle>>(key, lazy));
            throw;
        }
    }

    /// <summary>The names of all pools.</summary>
    public unsafe IReadOnlyList<string> ListPools()
    {
        var length = 4096;
        while (true)
        {
            var buffer = new byte[length];
            int needed;
            fixed (byte* p = buffer)
            {
                needed = LibRados.PoolList(_handle, p, (nuint)buffer.Length);
            }
            Check(needed, "rados_pool_list");
            if (needed <= buffer.Length)
            {
                return SplitNulTerminated(buffer.AsSpan(0, needed));
            }
            length = needed;
        }
    }

    /// <summary>Takes a reference to the connection; false once it is shut down (connect again).</summary>
    public bool TryAddReference()
    {
        while (true)
        {
            var count = Volatile.Read(ref _references);
            if (count == ShutDown)
            {
                return false;
            }
            if (Interlocked.CompareExchange(ref _references, count + 1, count) == count)
            {
                return true;
            }
        }
    }

    /// <summary>Gives a reference back; the last one shuts the connection down.</summary>
    public void Dispose()
    {
        // A holder that takes a reference between the decrement and the exchange keeps the connection up.
        if (Interlocked.Decrement(ref _references) == 0 && Interlocked.CompareExchange(ref _references, ShutDown, 0) == 0)
        {
            Release();
        }
    }

    private void Release()
    {
        foreach (var lazy in _ioContexts.Values)
        {
            if (lazy.IsValueCreated)
            {
                lazy.Value.Dispose();
            }
        }
        _ioContexts.Clear();
        _handle.Dispose();
    }

    /// <summary>Throws <see cref="RbdException"/> when <paramref name="result"/> is negative.</summary>
    public static int Check(int result, string call)
    {
        if (result < 0)
        {
            throw new RbdException(call, result);
        }
        return result;
    }

    /// <summary>Splits a buffer of NUL-terminated strings (ending at an empty one).</summary>
    public static List<string> SplitNulTerminated(ReadOnlySpan<byte> buffer)
    {
        var result = new List<string>();
        while (!buffer.IsEmpty)
        {
            var end = buffer.IndexOf((byte)0);
            if (end < 0)
            {
                end = buffer.Length;
            }
            if (end == 0)
            {
                break;
            }
            result.Add(Encoding.UTF8.GetString(buffer[..end]));
            buffer = end < buffer.Length ? buffer[(end + 1)..] : [];
        }
        return result;
    }

    private RadosIoContextHandle CreateIoContext(string pool, string? nameSpace)
    {
        Check(LibRados.IoContextCreate(_handle, pool, out var io), $"rados_ioctx_create({pool})");
        io.SetParent(_handle);
        if (nameSpace is not null)
        {
            LibRados.IoContextSetNamespace(io, nameSpace);
        }
        return io;
    }

    private static void Set(RadosClusterHandle handle, string key, string value) =>
        Check(LibRados.ConfSet(handle, key, value), $"rados_conf_set({key})");

    private static string Seconds(TimeSpan time) => Math.Max(1, (int)Math.Ceiling(time.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
}
