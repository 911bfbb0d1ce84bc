namespace DeltaSnap.Ceph.Tests;

public class ConnectionTests
{
    [Test]
    public async Task Connect_environmentSettings_listsImagesOfTheDefaultPool()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 1 << 20);
        await using var driver = await CephCluster.ConnectAsync(CephCluster.PoolA);
        var names = await driver.ListVolumesAsync();
        Assert.That(names, Does.Contain(volume.Name));
    }

    [Test]
    public async Task Connect_missingConfigFile_throwsRbdExceptionWithCallAndErrno()
    {
        CephCluster.RequireCluster();
        var options = new RbdDriverOptions { Connection = new CephConnectionOptions { ConfigFile = "/nonexistent/ceph.conf" } };
        var e = Assert.ThrowsAsync<RbdException>(async () => await RbdDriver.ConnectAsync(options));
        Assert.Multiple(() =>
        {
            Assert.That(e!.Call, Does.StartWith("rados_conf_read_file(/nonexistent/ceph.conf"));
            Assert.That(e.Errno, Is.EqualTo(2));
            Assert.That(e.Message, Does.Contain("errno 2"));
            Assert.That(e.IsTransient, Is.False);
        });
    }

    [Test]
    public async Task Connect_unreachableMonitor_timesOutAsTransient()
    {
        CephCluster.RequireCluster();
        var options = new RbdDriverOptions
        {
            Connection = new CephConnectionOptions
            {
                ConfigFile = Environment.GetEnvironmentVariable("CEPH_CONF"),
                ConnectTimeout = TimeSpan.FromSeconds(2),
                Settings = new Dictionary<string, string> { ["mon_host"] = "127.0.0.1:1" },
            },
        };
        var started = DateTime.UtcNow;
        var e = Assert.ThrowsAsync<RbdException>(async () => await RbdDriver.ConnectAsync(options));
        Assert.Multiple(() =>
        {
            Assert.That(e!.Call, Does.StartWith("rados_connect"));
            Assert.That(e.IsTransient, Is.True, $"errno {e.Errno} ({e.ErrorMessage})");
            Assert.That(DateTime.UtcNow - started, Is.LessThan(TimeSpan.FromSeconds(20)));
        });
        await Task.CompletedTask;
    }

    [Test]
    public async Task Connect_wrongClientId_failsWithPermissionError()
    {
        CephCluster.RequireCluster();
        var options = new RbdDriverOptions { Connection = new CephConnectionOptions { ClientId = "nobody", ConnectTimeout = TimeSpan.FromSeconds(5) } };
        var e = Assert.ThrowsAsync<RbdException>(async () => await RbdDriver.ConnectAsync(options));
        Assert.That(e!.Call, Does.Contain("client.nobody"));
        await Task.CompletedTask;
    }

    [Test]
    public void ResolveClientId_cephArgs_readsIdAndName()
    {
        var saved = Environment.GetEnvironmentVariable("CEPH_ARGS");
        try
        {
            Environment.SetEnvironmentVariable("CEPH_ARGS", "--conf /x --no-mon-config --id backup");
            var fromId = new CephConnectionOptions().ResolveClientId();
            Environment.SetEnvironmentVariable("CEPH_ARGS", "-n client.mirror");
            var fromName = new CephConnectionOptions().ResolveClientId();
            var explicitId = new CephConnectionOptions { ClientId = "client.me" }.ResolveClientId();
            var ignored = new CephConnectionOptions { UseEnvironment = false }.ResolveClientId();
            Assert.Multiple(() =>
            {
                Assert.That(fromId, Is.EqualTo("backup"));
                Assert.That(fromName, Is.EqualTo("mirror"));
                Assert.That(explicitId, Is.EqualTo("me"));
                Assert.That(ignored, Is.EqualTo("admin"));
            });
        }
        finally
        {
            Environment.SetEnvironmentVariable("CEPH_ARGS", saved);
        }
    }
}
