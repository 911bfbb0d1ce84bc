namespace DeltaSnap.Remote.Network.Tests.Support;

/// <summary>
/// One test's two hosts: a <see cref="NetworkPair"/>, a directory (the file system is shared; the network is not),
/// certificates, and the tool's TLS arguments for a client.
/// </summary>
internal sealed class TwoHosts : IAsyncDisposable
{
    private readonly List<ServeProcess> _servers = [];

    private TwoHosts(NetworkPair network, string dir)
    {
        Network = network;
        Dir = dir;
        Certificates = new TestCertificates(dir);
        Server = Certificates.Server("server", network.ServerAddress);
        Client = Certificates.Client("backup1");
    }

    public NetworkPair Network { get; }

    public string Dir { get; }

    public TestCertificates Certificates { get; }

    public PemCertificate Server { get; }

    public PemCertificate Client { get; }

    public static TwoHosts Create()
    {
        var network = NetworkPair.Create();
        return new TwoHosts(network, Directory.CreateTempSubdirectory("dsnap-net-").FullName);
    }

    public string File(string name) => Path.Combine(Dir, name);

    /// <summary>Writes an authorisation file.</summary>
    public string Authorization(params string[] lines)
    {
        var file = File($"authorize-{Guid.NewGuid():N}");
        System.IO.File.WriteAllLines(file, lines);
        return file;
    }

    /// <summary>Starts <c>deltasnap serve --listen</c> in the server's namespace, trusting the CA, with these rules.</summary>
    public Task<ServeProcess> ServeAsync(string? authorization, params string[] extra) => ServeAtAsync($"{Network.ServerAddress}:0", authorization, extra);

    /// <summary>
    /// Starts <c>deltasnap serve --listen</c> at <paramref name="listen"/> (a killed server's endpoint: a restarted server
    /// keeps its address, and so the remote volumes keep theirs).
    /// </summary>
    public async Task<ServeProcess> ServeAtAsync(string listen, string? authorization, params string[] extra)
    {
        string[] args = ["--cert", Server.CertificateFile, "--key", Server.KeyFile, "--trust", Certificates.CaFile, .. extra];
        if (authorization is not null)
        {
            args = [.. args, "--authorize", authorization];
        }
        var server = await ServeProcess.StartAsync(Network.ServerNamespace, listen, args);
        _servers.Add(server);
        return server;
    }

    /// <summary>The client's TLS options: its certificate, and the server trusted through the CA.</summary>
    public string[] ClientTls(PemCertificate? client = null) =>
        ["--tls-cert", (client ?? Client).CertificateFile, "--tls-key", (client ?? Client).KeyFile, "--tls-trust", Certificates.CaFile];

    /// <summary>Runs the tool in the client's namespace.</summary>
    public Task<ToolResult> ClientAsync(params string[] args) => CliProcess.RunAsync(Network.ClientNamespace, args);

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
        Network.Dispose();
        Directory.Delete(Dir, recursive: true);
    }
}
