using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Tests.Drivers;

/// <summary>The core resolver knows no scheme: everything it parses and opens comes from the backends registered with it.</summary>
public class VolumeResolverTests
{
    [Test]
    public void ParseAddress_registeredScheme_isParsedByItsBackendInAnyCase()
    {
        var resolver = new VolumeResolver().Add(new ShelfBackend("shelf"));

        var address = resolver.ParseAddress("SHELF:box/vm1");

        Assert.That(address, Is.EqualTo(new VolumeAddress("shelf", "box", "vm1")));
        Assert.That(address.ToString(), Is.EqualTo("shelf:box/vm1"));
        Assert.That(address.Text, Is.EqualTo("shelf:box/vm1"));
        Assert.That(new VolumeAddress("shelf", "box", "vm1").Text, Is.EqualTo("shelf:vm1"), "an address made by hand has the plain form");
    }

    [TestCase("nfs:server/vm1", "unknown scheme 'nfs'; registered: shelf, crate.")]
    [TestCase("box/vm1", "is not a volume address: expected scheme:location, such as shelf:BOX/VOLUME or crate:BOX/VOLUME.")]
    [TestCase(":box/vm1", "is not a volume address")]
    [TestCase("shelf:", "names no volume after 'shelf:'")]
    [TestCase("shelf:novolume", "expected shelf:BOX/VOLUME")]
    public void ParseAddress_badText_isAFormatExceptionThatSaysWhy(string text, string message)
    {
        var resolver = new VolumeResolver().Add(new ShelfBackend("shelf")).Add(new ShelfBackend("crate"));

        Assert.That(() => resolver.ParseAddress(text), Throws.TypeOf<FormatException>().With.Message.Contain(message));
    }

    [Test]
    public void Resolver_withoutBackends_saysNoneIsRegistered()
    {
        var resolver = new VolumeResolver();

        Assert.That(resolver.Schemes, Is.Empty);
        Assert.That(() => resolver.ParseAddress("zfs:tank/vm1"), Throws.TypeOf<FormatException>().With.Message.Contain("none is registered"));
        Assert.That(() => resolver.OpenDriverAsync("zfs", "tank"), Throws.InstanceOf<ArgumentException>());
    }

    [Test]
    public void Add_sameSchemeTwice_isRefused()
    {
        var resolver = new VolumeResolver().Add(new ShelfBackend("shelf"));

        Assert.That(() => resolver.Add(new ShelfBackend("Shelf")), Throws.InstanceOf<ArgumentException>().With.Message.Contain("'shelf' is registered already"));
        Assert.That(resolver.Schemes, Is.EqualTo(new[] { "shelf" }));
    }

    [TestCase("")]
    [TestCase("9p")]
    [TestCase("a b")]
    [TestCase("x:y")]
    public void Backend_schemeThatIsNoUriScheme_isRefused(string scheme) =>
        Assert.That(() => new ShelfBackend(scheme), Throws.InstanceOf<ArgumentException>());

    [Test]
    public async Task OpenVolumeAsync_existingVolume_opensItWithTheResolversLoggerFactory()
    {
        using var loggerFactory = new RecordingLoggerFactory();
        var backend = new ShelfBackend("shelf");
        backend.Volumes.Add("vm1");
        var resolver = new VolumeResolver(loggerFactory).Add(backend);

        var volume = await resolver.OpenVolumeAsync("shelf:box/vm1");

        Assert.That(volume.Name, Is.EqualTo("vm1"));
        Assert.That(((ShelfDriver)volume.Driver).Location, Is.EqualTo("box"));
        Assert.That(backend.LoggerFactories, Is.EqualTo(new[] { loggerFactory }));
        Assert.That(loggerFactory.Categories, Does.Contain(typeof(VolumeBackend).FullName));
    }

    [Test]
    public void OpenVolumeAsync_missingVolume_throwsAndDisposesTheDriverItOpened()
    {
        var backend = new ShelfBackend("shelf");
        var resolver = new VolumeResolver().Add(backend);

        Assert.That(() => resolver.OpenVolumeAsync("shelf:box/nope"), Throws.TypeOf<VolumeNotFoundException>());
        Assert.That(backend.Opened, Has.Count.EqualTo(1));
        Assert.That(backend.Opened[0].Disposed, Is.True);
    }

    [Test]
    public async Task CreateVolumeAsync_address_createsThroughTheBackendsDriver()
    {
        var backend = new ShelfBackend("shelf");
        var resolver = new VolumeResolver().Add(backend);

        var volume = await resolver.CreateVolumeAsync("shelf:box/new", new VolumeCreateOptions { Size = 4096 });

        Assert.That(volume.Name, Is.EqualTo("new"));
        Assert.That(backend.Volumes, Does.Contain("new"));
        Assert.That(() => resolver.CreateVolumeAsync("shelf:box/bad", new VolumeCreateOptions { Size = 0 }), Throws.InstanceOf<ArgumentException>());
        Assert.That(backend.Opened[^1].Disposed, Is.True, "the driver of a failed create is released");
    }

    [Test]
    public async Task OpenDriverAsync_schemeAndLocation_opensADriverWithoutAVolume()
    {
        var resolver = new VolumeResolver().Add(new ShelfBackend("shelf"));

        await using var driver = await resolver.OpenDriverAsync("SHELF", "box");

        Assert.That(((ShelfDriver)driver).Location, Is.EqualTo("box"));
    }

    [Test]
    public void BackendOpenVolumeAsync_addressOfAnotherScheme_isRefused()
    {
        var backend = new ShelfBackend("shelf");

        Assert.That(() => backend.OpenVolumeAsync(new VolumeAddress("crate", "box", "vm1")), Throws.InstanceOf<ArgumentException>());
        Assert.That(backend.Opened, Is.Empty);
    }

    /// <summary>A third-party backend: <c>SCHEME:BOX/VOLUME</c>; volumes are names in a set.</summary>
    private sealed class ShelfBackend(string scheme) : VolumeBackend(scheme)
    {
        public HashSet<string> Volumes { get; } = [];

        public List<ShelfDriver> Opened { get; } = [];

        public List<ILoggerFactory> LoggerFactories { get; } = [];

        public override string AddressSyntax => $"{Scheme}:BOX/VOLUME";

        protected override VolumeAddress ParseAddressCore(string path)
        {
            var slash = path.IndexOf('/', StringComparison.Ordinal);
            return slash > 0 && slash < path.Length - 1
                ? new VolumeAddress(Scheme, path[..slash], path[(slash + 1)..])
                : throw new FormatException($"'{Scheme}:{path}': expected {AddressSyntax}.");
        }

        protected override Task<VolumeDriver> OpenDriverCoreAsync(string location, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
        {
            LoggerFactories.Add(loggerFactory);
            var driver = new ShelfDriver(this, location, loggerFactory);
            Opened.Add(driver);
            return Task.FromResult<VolumeDriver>(driver);
        }
    }

    private sealed class ShelfDriver(ShelfBackend backend, string location, ILoggerFactory loggerFactory) : VolumeDriver(backend.Scheme, loggerFactory)
    {
        public string Location { get; } = location;

        public bool Disposed { get; private set; }

        public override DriverCapabilities Capabilities => DriverCapabilities.BlockVolumes;

        protected override Task<IReadOnlyList<string>> ListVolumesCoreAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<string>>([.. backend.Volumes]);

        protected override Task<Volume> OpenVolumeCoreAsync(string name, CancellationToken cancellationToken) =>
            backend.Volumes.Contains(name) ? Task.FromResult<Volume>(new ShelfVolume(this, name)) : throw new VolumeNotFoundException(name);

        protected override Task<Volume> CreateVolumeCoreAsync(string name, VolumeCreateOptions options, CancellationToken cancellationToken)
        {
            backend.Volumes.Add(name);
            return Task.FromResult<Volume>(new ShelfVolume(this, name));
        }

        protected override Task DeleteVolumeCoreAsync(string name, CancellationToken cancellationToken) => Task.FromResult(backend.Volumes.Remove(name));

        protected override async ValueTask DisposeCoreAsync()
        {
            Disposed = true;
            await base.DisposeCoreAsync();
        }
    }

    private sealed class ShelfVolume(ShelfDriver driver, string name) : Volume(driver, name, VolumeKind.Block)
    {
        protected override Task<long> GetSizeCoreAsync(CancellationToken cancellationToken) => Task.FromResult(0L);

        protected override Task<SnapshotLineage> GetLineageCoreAsync(CancellationToken cancellationToken) => Task.FromResult(new SnapshotLineage([]));

        protected override Task<SnapshotInfo> CreateSnapshotCoreAsync(string name, SnapshotCreateOptions options, CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task DeleteSnapshotCoreAsync(string name, CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task RollbackCoreAsync(string name, CancellationToken cancellationToken) => throw new NotSupportedException();
    }

    private sealed class RecordingLoggerFactory : ILoggerFactory
    {
        public List<string> Categories { get; } = [];

        public ILogger CreateLogger(string categoryName)
        {
            Categories.Add(categoryName);
            return NullLogger.Instance;
        }

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }
    }
}
