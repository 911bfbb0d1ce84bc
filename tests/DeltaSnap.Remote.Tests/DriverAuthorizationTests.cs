using DeltaSnap.Drivers;
using DeltaSnap.Lvol;

namespace DeltaSnap.Remote.Tests;

/// <summary>
/// Requests about a volume made through a driver handle are authorised against that volume's own address, and listing
/// against the driver's location, never against the address the driver came with: a peer allowed one volume cannot
/// read, delete, create or list its neighbours through that volume's driver.
/// </summary>
[NonParallelizable]
public sealed class DriverAuthorizationTests
{
    [Test]
    public async Task VolumeDriver_peerAllowedOneVolume_cannotReachItsNeighbours()
    {
        using var dir = new TempDirectory();
        var store = dir.File("a.lvs");
        await using (var driver = await LvolDriver.CreateStoreAsync(store))
        {
            await driver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 1 << 20 });
            var other = await driver.CreateVolumeAsync("other", new VolumeCreateOptions { Size = 1 << 20 });
            await other.CreateSnapshotAsync("secret");
        }
        var allowed = $"lvol:{store}#vm";
        var asked = new List<(string Address, VolumeAccess Access)>();
        await using var loop = await Loopback.StartAsync(serverOptions: new VolumeServerOptions
        {
            Authorize = (_, address, access) =>
            {
                lock (asked)
                {
                    asked.Add((address, access));
                }
                return address == allowed;
            },
        });
        var vm = await loop.Session.OpenVolumeAsync(allowed);

        Assert.Multiple(() =>
        {
            Assert.That(async () => await vm.Driver.OpenVolumeAsync("other"), Throws.TypeOf<SessionException>().With.Property(nameof(SessionException.Reason)).EqualTo(SessionErrorReason.Unauthorized));
            Assert.That(async () => await vm.Driver.DeleteVolumeAsync("other"), Throws.TypeOf<SessionException>().With.Property(nameof(SessionException.Reason)).EqualTo(SessionErrorReason.Unauthorized));
            Assert.That(async () => await vm.Driver.CreateVolumeAsync("new", new VolumeCreateOptions { Size = 1 << 20 }), Throws.TypeOf<SessionException>());
            Assert.That(async () => await vm.Driver.ListVolumesAsync(), Throws.TypeOf<SessionException>());
            Assert.That(async () => await vm.Driver.VolumeExistsAsync("other"), Throws.TypeOf<SessionException>());
        });
        Assert.That(asked, Does.Contain(($"lvol:{store}#other", VolumeAccess.Write)), "the neighbour's own address was asked about");
        Assert.That(asked, Does.Contain(($"lvol:{store}", VolumeAccess.Read)), "listing is asked about the location");

        // The volume itself, through the same driver, still works.
        Assert.That(await vm.Driver.VolumeExistsAsync("vm"), Is.True);
        await vm.Driver.DisposeAsync();
        await using var check = await LvolDriver.OpenAsync(store);
        Assert.That(await check.ListVolumesAsync(), Is.EquivalentTo(new[] { "vm", "other" }), "nothing was deleted or created");
        Assert.That((await (await check.OpenVolumeAsync("other")).GetLineageAsync()).Single().Name, Is.EqualTo("secret"));
    }

    [Test]
    public async Task LocationDriver_nameThatIsNotAVolumeThere_refused()
    {
        using var dir = new TempDirectory();
        var store = dir.File("a.lvs");
        await (await LvolDriver.CreateStoreAsync(store)).DisposeAsync();
        await using var loop = await Loopback.StartAsync(serverOptions: new VolumeServerOptions
        {
            Authorize = (_, address, _) => address.StartsWith($"lvol:{store}", StringComparison.Ordinal),
        });
        var driver = await loop.Session.OpenDriverAsync("lvol", store);

        Assert.That(async () => await driver.CreateVolumeAsync("x#y", new VolumeCreateOptions { Size = 1 << 20 }), Throws.InstanceOf<Exception>());
        var created = await driver.CreateVolumeAsync("ok", new VolumeCreateOptions { Size = 1 << 20 });
        Assert.That(created.Name, Is.EqualTo("ok"));
        Assert.That(await driver.ListVolumesAsync(), Is.EqualTo(new[] { "ok" }));
        await driver.DisposeAsync();
    }
}
