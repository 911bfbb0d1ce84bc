using System.Net;
using System.Net.Sockets;
using System.Text;
using DeltaSnap.Cli.Tests.Support;
using DeltaSnap.Remote.Network.Tests.Support;
using ToolResult = DeltaSnap.Cli.Tests.Support.ToolResult;

namespace DeltaSnap.Cli.Tests;

/// <summary>
/// <c>deltasnap volume create|list|delete</c> on a server: a real <c>deltasnap serve --listen</c> (in-process, on
/// loopback, mutual TLS with certificates made here) serving lvol stores and dir: trees in a temporary directory, with an
/// authorisation file that lets one client write there and another only read.
/// </summary>
public sealed class RemoteVolumeCommandTests
{
    private TempDirectory _dir = null!;
    private CancellationTokenSource _stop = null!;
    private Task<int> _server = null!;
    private TextWriter _serverLog = null!;
    private string _peer = null!;
    private string[] _writer = null!;
    private string[] _reader = null!;
    private string[] _stranger = null!;
    private string _caFile = null!;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _dir = new TempDirectory();
        var certificates = new TestCertificates(_dir.Path);
        var server = certificates.Server("server");
        var writer = certificates.Client("writer");
        var reader = certificates.Client("reader");
        var stranger = certificates.SelfSigned("stranger");
        var rules = _dir.File("authorize");
        await File.WriteAllLinesAsync(rules, [
            $"writer write lvol:{_dir.Path}/",
            $"writer write dir:{_dir.Path}/",
            $"reader read lvol:{_dir.Path}/",
        ]);
        _caFile = certificates.CaFile;
        _writer = ["--tls-cert", writer.CertificateFile, "--tls-key", writer.KeyFile, "--tls-trust", certificates.CaFile];
        _reader = ["--tls-cert", reader.CertificateFile, "--tls-key", reader.KeyFile, "--tls-trust", certificates.CaFile];
        _stranger = ["--tls-cert", stranger.CertificateFile, "--tls-key", stranger.KeyFile, "--tls-trust", certificates.CaFile];

        var output = new FirstLineWriter();
        _serverLog = TextWriter.Synchronized(new StringWriter());
        _stop = new CancellationTokenSource();
        _server = Program.RunAsync(
            ["serve", "--listen", "127.0.0.1:0", "--cert", server.CertificateFile, "--key", server.KeyFile, "--trust", certificates.CaFile, "--authorize", rules],
            output, _serverLog, cancellationToken: _stop.Token);
        var first = await Task.WhenAny(output.FirstLine, _server).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(first, Is.SameAs(output.FirstLine), $"deltasnap serve did not start:\n{_serverLog}");
        var line = await output.FirstLine;
        Assert.That(line, Does.StartWith("listening on "), line);
        _peer = "tls://" + line["listening on ".Length..].Split(' ')[0];
    }

    [OneTimeTearDown]
    public async Task StopServer()
    {
        await _stop.CancelAsync();
        Assert.That(await _server.WaitAsync(TimeSpan.FromSeconds(30)), Is.Zero, $"deltasnap serve ended badly:\n{_serverLog}");
        _server.Dispose();
        _serverLog.Dispose();
        _stop.Dispose();
        _dir.Dispose();
    }

    [Test]
    public async Task CreateListDelete_tlsLvol_listsRemoteUrisThatOtherCommandsTake()
    {
        var store = _dir.File("end-to-end.lvs");
        var vm1 = $"{_peer}/lvol:{store}#vm1";
        var vm2 = $"{_peer}/lvol:{store}#vm2";

        var created = await RunOkAsync(["volume", "create", vm1, "--size", "8M", .. _writer]);
        await RunOkAsync(["volume", "create", vm2, "--size", "4M", .. _writer]);

        Assert.That(created.Out, Is.EqualTo($"created {vm1} (8 MiB block volume)\n"));
        var listed = await RunOkAsync(["volume", "list", $"{_peer}/lvol:{store}", .. _writer]);
        Assert.That(Lines(listed), Is.EquivalentTo(new[] { vm1, vm2 }));
        var json = await RunOkAsync(["volume", "list", $"{_peer}/lvol:{store}", "--json", .. _writer]);
        Assert.That(json.Out, Is.EqualTo($"[\"{vm1}\",\"{vm2}\"]\n").Or.EqualTo($"[\"{vm2}\",\"{vm1}\"]\n"));
        // A listed line is an address the other commands take as it is.
        await RunOkAsync(["snapshot", "create", Lines(listed).Single(l => l.EndsWith("#vm2", StringComparison.Ordinal)), "monday", .. _writer]);

        var unconfirmed = await DeltaSnapTool.RunAsync(["volume", "delete", vm2, .. _writer]);
        Assert.That(unconfirmed.ExitCode, Is.EqualTo(2), unconfirmed.ToString());
        Assert.That(unconfirmed.Error, Does.Contain("--yes"));
        var deleted = await RunOkAsync(["volume", "delete", vm2, "--yes", .. _writer]);
        Assert.That(deleted.Out, Is.EqualTo($"deleted {vm2}\n"));
        Assert.That(Lines(await RunOkAsync(["volume", "list", $"{_peer}/lvol:{store}", .. _writer])), Is.EqualTo(new[] { vm1 }));
        var again = await DeltaSnapTool.RunAsync(["volume", "delete", vm2, "--yes", .. _writer]);
        Assert.That(again.ExitCode, Is.EqualTo(1), again.ToString());
        Assert.That(again.Error, Does.Contain("vm2"));
    }

    [Test]
    public async Task CreateList_tlsDirFileSystemVolume_listsItsRemoteUri()
    {
        var root = _dir.File("trees");
        Directory.CreateDirectory(root);

        await RunOkAsync(["volume", "create", $"{_peer}/dir:{root}/www", "--filesystem", .. _writer]);

        Assert.That((await RunOkAsync(["volume", "list", $"{_peer}/dir:{root}", .. _writer])).Out, Is.EqualTo($"{_peer}/dir:{root}/www\n"));
        Assert.That(Directory.Exists(Path.Combine(root, "www")), Is.True);
    }

    [Test]
    public async Task CreateDelete_readOnlyPeer_refusedWithExit7AndNothingChanged()
    {
        var store = _dir.File("read-only.lvs");
        var vm1 = $"{_peer}/lvol:{store}#vm1";
        await RunOkAsync(["volume", "create", vm1, "--size", "4M", .. _writer]);

        var listed = await RunOkAsync(["volume", "list", $"{_peer}/lvol:{store}", .. _reader]);
        var create = await DeltaSnapTool.RunAsync(["volume", "create", $"{_peer}/lvol:{store}#vm2", "--size", "4M", .. _reader]);
        var delete = await DeltaSnapTool.RunAsync(["volume", "delete", vm1, "--yes", .. _reader]);

        Assert.That(Lines(listed), Is.EqualTo(new[] { vm1 }), "reading is allowed");
        Assert.That(create.ExitCode, Is.EqualTo(7), create.ToString());
        Assert.That(create.Error, Does.Contain("refused").And.Contain("reader may not change").And.Contain("#vm2"));
        Assert.That(delete.ExitCode, Is.EqualTo(7), delete.ToString());
        Assert.That(delete.Error, Does.Contain("refused").And.Contain("reader may not change").And.Contain("#vm1"));
        Assert.That(create.Out + delete.Out, Is.Empty);
        Assert.That(Lines(await RunOkAsync(["volume", "list", $"{_peer}/lvol:{store}", .. _writer])), Is.EqualTo(new[] { vm1 }), "nothing created, nothing deleted");
    }

    [Test]
    public async Task List_locationTheRulesDoNotCover_refusedWithExit7()
    {
        var result = await DeltaSnapTool.RunAsync(["volume", "list", $"{_peer}/lvol:/var/tmp/not-shared.lvs", .. _writer]);

        Assert.That(result.ExitCode, Is.EqualTo(7), result.ToString());
        Assert.That(result.Error, Does.Contain("writer may not read lvol:/var/tmp/not-shared.lvs"));
        Assert.That(File.Exists("/var/tmp/not-shared.lvs"), Is.False);
    }

    [Test]
    public async Task List_untrustedClientCertificate_refusedWithExit7()
    {
        var result = await DeltaSnapTool.RunAsync(["volume", "list", $"{_peer}/lvol:{_dir.File("any.lvs")}", .. _stranger]);

        Assert.That(result.ExitCode, Is.EqualTo(7), result.ToString());
        Assert.That(result.Error, Does.Contain("certificate").And.Not.Contain("closed the session"));
    }

    [TestCase("list", "lvol:{0}/absent.lvs")]
    [TestCase("create", "lvol:{0}/absent.lvs#vm", "--size", "4M")]
    [TestCase("delete", "lvol:{0}/absent.lvs#vm", "--yes")]
    public async Task Volume_noServerThere_failsWithExit1(string command, string inner, params string[] more)
    {
        var address = $"tls://127.0.0.1:{FreePort()}/{string.Format(System.Globalization.CultureInfo.InvariantCulture, inner, _dir.Path)}";

        var result = await DeltaSnapTool.RunAsync(["volume", command, address, .. more, .. _writer]);

        Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
        Assert.That(result.Error, Does.StartWith("deltasnap: Cannot connect to 127.0.0.1:"));
    }

    [TestCase("list", "tls://127.0.0.1/lvol:/tmp/x.lvs", "names no port")]
    [TestCase("list", "tls://127.0.0.1:7480", "names no volume after the host")]
    [TestCase("list", "tls://127.0.0.1:7480/lvol", "is not a volume address")]
    [TestCase("list", "tls://127.0.0.1:7480/nope:/x", "Unknown scheme 'nope'")]
    [TestCase("list", "tls://-oProxyCommand=x:7480/lvol:/tmp/x.lvs", "-oProxyCommand")]
    [TestCase("create", "tls://127.0.0.1:7480/lvol:/tmp/x.lvs#vm", "--size")]
    [TestCase("delete", "tls://127.0.0.1:7480/lvol:/tmp/x.lvs#vm;reboot", ";")]
    [TestCase("delete", "ssh:host/lvol:/tmp/x.lvs#vm", "not a remote address")]
    public async Task Volume_malformedRemoteAddress_usageErrorBeforeConnecting(string command, string address, string expected)
    {
        var result = await DeltaSnapTool.RunAsync(["volume", command, address, .. command == "delete" ? ["--yes"] : Array.Empty<string>(), .. _writer]);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Error, Does.Contain(expected));
        Assert.That(result.Error, Does.Not.Contain("Cannot connect"), "nothing was reached");
    }

    [Test]
    public async Task Create_toolProcess_neverReadsTheSystemCertificateStore()
    {
        // The store OpenSSL's variables name (a CA bundle and a hashed directory, as on Debian), watched for reads. .NET
        // reads the whole store at a process's first TLS handshake unless the tool points it elsewhere; trust comes from
        // --tls-trust only, so the tool never needs it.
        var store = Directory.CreateDirectory(_dir.File("system-store")).FullName;
        var bundle = Path.Combine(store, "ca-certificates.crt");
        File.Copy(_caFile, bundle);
        var hashed = Directory.CreateDirectory(Path.Combine(store, "certs")).FullName;
        File.Copy(_caFile, Path.Combine(hashed, "0a1b2c3d.0"));
        var reads = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var watcher = new FileSystemWatcher(store) { IncludeSubdirectories = true, NotifyFilter = NotifyFilters.LastAccess };
        watcher.Changed += (_, e) => reads.Enqueue(e.FullPath);
        watcher.EnableRaisingEvents = true;

        using var process = DeltaSnapTool.StartProcess(
            new Dictionary<string, string> { ["SSL_CERT_FILE"] = bundle, ["SSL_CERT_DIR"] = hashed },
            ["volume", "create", $"{_peer}/lvol:{_dir.File("store-check.lvs")}#vm", "--size", "4M", .. _writer]);
        var result = await DeltaSnapTool.WaitAsync(process);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        // A read of our own, after the tool's: inotify reports in order, so once it arrives every read before it has.
        var marker = Path.Combine(store, "marker");
        await File.WriteAllTextAsync(marker, "x");
        _ = await File.ReadAllTextAsync(marker);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!reads.Contains(marker) && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(20);
        }
        Assert.That(reads, Does.Contain(marker), "the watcher saw the test's own read");
        // (Directories are left out: the watcher lists them itself when it starts.)
        Assert.That(reads.Where(path => path != marker && File.Exists(path)), Is.Empty, "files of the system store the tool read");
    }

    [Test]
    public async Task List_tlsWithoutClientCertificate_usageError()
    {
        var result = await DeltaSnapTool.RunAsync("volume", "list", $"{_peer}/lvol:{_dir.File("any.lvs")}");

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Error, Does.Contain("--tls-cert"));
    }

    private static async Task<ToolResult> RunOkAsync(string[] args)
    {
        var result = await DeltaSnapTool.RunAsync(args);
        Assert.That(result.ExitCode, Is.Zero, $"deltasnap {string.Join(' ', args)}\n{result}");
        return result;
    }

    private static string[] Lines(ToolResult result) => result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>A loopback port nothing listens on (bound, then released).</summary>
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Standard output of the in-process server: completes <see cref="FirstLine"/> with the first line written.</summary>
    private sealed class FirstLineWriter : StringWriter
    {
        private readonly TaskCompletionSource<string> _firstLine = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public FirstLineWriter()
            : base(new StringBuilder(), System.Globalization.CultureInfo.InvariantCulture)
        {
        }

        public Task<string> FirstLine => _firstLine.Task;

        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            _firstLine.TrySetResult(value ?? "");
        }

        public override Task WriteLineAsync(string? value)
        {
            WriteLine(value);
            return Task.CompletedTask;
        }
    }
}

/// <summary>
/// <c>deltasnap volume create|list|delete</c> over ssh: an <c>sshd</c> on loopback with throw-away keys runs the built tool's
/// <c>serve --stdio</c> (no authorisation file: what the ssh account can reach).
/// </summary>
[Category("Ssh")]
public sealed class RemoteVolumeSshCommandTests
{
    [Test]
    public async Task ListDelete_ssh_listsSshUrisAndDeletes()
    {
        await using var ssh = await SshServer.StartAsync();
        using var dir = new TempDirectory();
        var peer = $"ssh://root@127.0.0.1:{ssh.Port}";
        var store = dir.File("over-ssh.lvs");
        var vm = $"{peer}/lvol:{store}#vm";

        // Made here (creating over ssh is the resolver's path, which the refresh tests take): each ssh command starts the tool there.
        await LvolFixture.RunOkAsync("volume", "create", $"lvol:{store}#vm", "--size", "4M");

        var listed = await DeltaSnapTool.RunAsync(["volume", "list", $"{peer}/lvol:{store}", .. ssh.ClientOptions]);
        var deleted = await DeltaSnapTool.RunAsync(["volume", "delete", vm, "--yes", .. ssh.ClientOptions]);

        Assert.That(listed.Out, Is.EqualTo(vm + "\n"), listed.ToString());
        Assert.That(deleted.Out, Is.EqualTo($"deleted {vm}\n"), deleted.ToString());
        Assert.That((await LvolFixture.RunOkAsync("volume", "list", $"lvol:{store}")).Out, Is.Empty, "deleted on the far side");
    }
}
