namespace DeltaSnap.Ceph;

/// <summary>
/// How to reach a Ceph cluster: the configuration file, the keyring and the client name, as the <c>rbd</c> and
/// <c>ceph</c> commands take them (<c>--conf</c>, <c>--keyring</c>, <c>--id</c>). Anything left null comes from
/// the standard places: <c>CEPH_CONF</c> (else <c>/etc/ceph/ceph.conf</c>), <c>CEPH_KEYRING</c>, <c>CEPH_ARGS</c>,
/// and the keyring the configuration names.
/// </summary>
public sealed record CephConnectionOptions
{
    /// <summary>The client id used when none is given: <c>admin</c> (the entity <c>client.admin</c>).</summary>
    public const string DefaultClientId = "admin";

    /// <summary>The configuration file; null for librados's search (<c>$CEPH_CONF</c>, <c>/etc/ceph/ceph.conf</c>, …).</summary>
    public string? ConfigFile { get; init; }

    /// <summary>The keyring file; null for the one the configuration or <c>CEPH_KEYRING</c> names.</summary>
    public string? Keyring { get; init; }

    /// <summary>The client id without the <c>client.</c> prefix (<c>admin</c>); null for <c>--id</c>/<c>--name</c> in <c>CEPH_ARGS</c>, else <see cref="DefaultClientId"/>.</summary>
    public string? ClientId { get; init; }

    /// <summary>Whether to apply <c>CEPH_ARGS</c> and <c>CEPH_KEYRING</c> from the environment (librados's <c>rados_conf_parse_env</c>).</summary>
    public bool UseEnvironment { get; init; } = true;

    /// <summary>How long connecting may take (<c>client_mount_timeout</c>); null keeps the configured value.</summary>
    public TimeSpan? ConnectTimeout { get; init; }

    /// <summary>How long one OSD or monitor operation may take before it fails with ETIMEDOUT (<c>rados_osd_op_timeout</c>, <c>rados_mon_op_timeout</c>); null keeps the configured values.</summary>
    public TimeSpan? OperationTimeout { get; init; }

    /// <summary>Further configuration settings applied last (<c>rados_conf_set</c>), such as <c>mon_host</c>.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The client id to connect as: <see cref="ClientId"/>, else <c>--id X</c>, <c>--user X</c>, <c>-i X</c>,
    /// <c>--name client.X</c> or <c>-n client.X</c> in <c>CEPH_ARGS</c> (when <see cref="UseEnvironment"/>), else
    /// <see cref="DefaultClientId"/>.
    /// </summary>
    public string ResolveClientId()
    {
        if (!string.IsNullOrEmpty(ClientId))
        {
            return ClientId.StartsWith("client.", StringComparison.Ordinal) ? ClientId["client.".Length..] : ClientId;
        }
        if (UseEnvironment && Environment.GetEnvironmentVariable("CEPH_ARGS") is { Length: > 0 } args)
        {
            var words = args.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            for (var i = 0; i < words.Length; i++)
            {
                var (option, value) = SplitOption(words, ref i);
                switch (option)
                {
                    case "--id" or "--user" or "-i" when value is { Length: > 0 }:
                        return value;
                    case "--name" or "-n" when value is not null && value.StartsWith("client.", StringComparison.Ordinal) && value.Length > 7:
                        return value[7..];
                    default:
                        break;
                }
            }
        }
        return DefaultClientId;
    }

    private static (string Option, string? Value) SplitOption(string[] words, ref int i)
    {
        var word = words[i];
        var eq = word.IndexOf('=', StringComparison.Ordinal);
        if (word.StartsWith("--", StringComparison.Ordinal) && eq > 0)
        {
            return (word[..eq], word[(eq + 1)..]);
        }
        if (i + 1 < words.Length && !words[i + 1].StartsWith('-'))
        {
            return (word, words[++i]);
        }
        return (word, null);
    }
}
