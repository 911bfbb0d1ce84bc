using System.Text.Json;

namespace DeltaSnap.Lvol.Tests;

/// <summary>
/// The server against the reference page of Longhorn's lvol API (shared/reference/longhorn-lvol-api.md): every
/// method's result shape, error code and message, lifecycle, and the upstream test vectors, over the socket.
/// </summary>
public sealed class LonghornCompatibilityTests : StoreFixture
{
    private const int MiB = 1 << 20;
    private const int Small = 64 * 1024;

    private RpcTestBed _bed = null!;
    private SpdkRpcClient _client = null!;
    private LvolStore _store = null!;

    private async Task StartAsync(int clusterSize = Small, long capacity = 0)
    {
        _store = await CreateStoreAsync(clusterSize, "lvs", capacity);
        _bed = await RpcTestBed.StartAsync(Directory, "rpc", _store);
        _client = await _bed.ConnectAsync();
    }

    [TearDown]
    public async Task StopAsync()
    {
        if (_bed is not null)
        {
            await _client.DisposeAsync();
            await _bed.DisposeAsync();
            _bed = null!;
        }
    }

    private Task<string> CallAsync(string method, string? parameters = null) => _client.CallRawAsync(method, parameters);

    private (int Code, string? Message) Error(string method, string? parameters = null)
    {
        var e = Assert.ThrowsAsync<SpdkRpcException>(() => CallAsync(method, parameters), $"{method} {parameters}");
        return (e!.Code, e.ServerMessage);
    }

    private async Task<SpdkShallowCopyStatus> PollAsync(uint id)
    {
        SpdkShallowCopyStatus status;
        while ((status = await _client.BdevLvolCheckShallowCopyAsync(id)).State == "in progress")
        {
            await Task.Delay(5);
        }
        return status;
    }

    [Test]
    public async Task Checksums_upstreamTestVectors_match()
    {
        await StartAsync(4 * MiB);
        await _client.BdevLvolCreateAsync("lvs", null, "lvol", 16, thinProvision: true);
        await WriteAsync(_store, "lvol", 4 * MiB, Enumerable.Repeat((byte)0xCC, 4 * MiB).ToArray());
        await _client.BdevLvolSnapshotAsync("lvs/lvol", "snapshot1");
        await _client.BdevLvolRegisterSnapshotChecksumAsync("lvs/snapshot1");
        Assert.That(await _client.BdevLvolGetSnapshotChecksumAsync("lvs/snapshot1"), Is.EqualTo(828947163827886523UL));

        await WriteAsync(_store, "lvol", 12 * MiB, Enumerable.Repeat((byte)0xBB, 4 * MiB).ToArray());
        await _client.BdevLvolSnapshotAsync("lvs/lvol", "snapshot2");
        await _client.BdevLvolRegisterSnapshotChecksumAsync("lvs/snapshot2");
        Assert.That(await _client.BdevLvolGetSnapshotChecksumAsync("lvs/snapshot2"), Is.EqualTo(7161606974051404010UL));

        await _client.BdevLvolDeleteAsync("lvs/snapshot1");
        Assert.That(Error("bdev_lvol_get_snapshot_checksum", """{"name":"lvs/snapshot2"}"""), Is.EqualTo((-19, "No such device")),
            "deleting snapshot1 merged its cluster into snapshot2 and invalidated its checksum");
        await _client.BdevLvolRegisterSnapshotChecksumAsync("lvs/snapshot2");
        Assert.That(await _client.BdevLvolGetSnapshotChecksumAsync("lvs/snapshot2"), Is.EqualTo(440587436939872369UL));
    }

    [Test]
    public async Task Fragmap_upstreamTest_isAAIAndWindowEA()
    {
        await StartAsync(4 * MiB);
        await _client.BdevLvolCreateAsync("lvs", null, "lvol", 40, thinProvision: true);
        await WriteAsync(_store, "lvol", 9L * 4 * MiB, Pattern(4 * MiB, 1));

        var whole = await _client.BdevLvolGetFragmapAsync("lvs/lvol");
        Assert.That((whole.ClusterSize, whole.NumClusters, whole.NumAllocatedClusters, whole.Fragmap), Is.EqualTo((4UL * MiB, 10UL, 1UL, "AAI=")));
        var window = await _client.BdevLvolGetFragmapAsync("lvs/lvol", 5UL * 4 * MiB, 5UL * 4 * MiB);
        Assert.That((window.NumClusters, window.NumAllocatedClusters, window.Fragmap), Is.EqualTo((5UL, 1UL, "EA==")));
        Assert.That(Error("bdev_lvol_get_fragmap", """{"name":"lvs/lvol","offset":4096}"""), Is.EqualTo((-32602, "Invalid argument")));
        Assert.That(Error("bdev_lvol_get_fragmap", """{"name":"lvs/lvol","offset":0,"size":83886080}"""), Is.EqualTo((-32602, "Invalid argument")), "past the end");
    }

    [TestCase("bdev_lvol_snapshot", """{"lvol_name":"lvs/none","snapshot_name":"s"}""")]
    [TestCase("bdev_lvol_clone", """{"snapshot_name":"lvs/none","clone_name":"c"}""")]
    [TestCase("bdev_lvol_delete", """{"name":"lvs/none"}""")]
    [TestCase("bdev_lvol_delete", """{"name":"0b1e0c9e-1111-4c5d-9e39-3a3f3a3f3a3f"}""")]
    [TestCase("bdev_get_bdevs", """{"name":"lvs/none"}""")]
    [TestCase("bdev_lvol_get_lvols", """{"lvs_name":"none"}""")]
    [TestCase("bdev_lvol_create", """{"lvs_name":"none","lvol_name":"x","size_in_mib":1}""")]
    [TestCase("bdev_lvol_inflate", """{"name":"none"}""")]
    [TestCase("bdev_lvol_decouple_parent", """{"name":"none"}""")]
    [TestCase("bdev_lvol_detach_parent", """{"name":"none"}""")]
    [TestCase("bdev_lvol_set_parent", """{"lvol_name":"none","parent_name":"lvs/snap"}""")]
    [TestCase("bdev_lvol_set_parent", """{"lvol_name":"lvs/vol","parent_name":"none"}""")]
    [TestCase("bdev_lvol_get_fragmap", """{"name":"none"}""")]
    [TestCase("bdev_lvol_register_snapshot_checksum", """{"name":"none"}""")]
    [TestCase("bdev_lvol_register_snapshot_range_checksums", """{"name":"none"}""")]
    [TestCase("bdev_lvol_get_snapshot_checksum", """{"name":"none"}""")]
    [TestCase("bdev_lvol_get_snapshot_range_checksums", """{"name":"none","cluster_start_index":0,"cluster_count":1}""")]
    [TestCase("bdev_lvol_stop_snapshot_checksum", """{"name":"none"}""")]
    [TestCase("bdev_lvol_start_shallow_copy", """{"src_lvol_name":"none","dst_bdev_name":"lvs/vol"}""")]
    [TestCase("bdev_lvol_start_range_shallow_copy", """{"src_lvol_name":"none","dst_bdev_name":"lvs/vol","clusters":[0]}""")]
    [TestCase("bdev_lvol_start_range_shallow_copy", """{"src_lvol_name":"lvs/snap","dst_bdev_name":"none","clusters":[0]}""")]
    [TestCase("bdev_lvol_check_shallow_copy", """{"operation_id":4000000000}""")]
    public async Task UnknownName_inEveryMethod_isMinus19NoSuchDevice(string method, string parameters)
    {
        await StartAsync();
        await _client.BdevLvolCreateAsync("lvs", null, "vol", 1);
        await _client.BdevLvolSnapshotAsync("lvs/vol", "snap");
        Assert.That(Error(method, parameters), Is.EqualTo((-19, "No such device")));
    }

    [Test]
    public async Task Create_errors_areSpdks()
    {
        await StartAsync();
        var uuid = await _client.BdevLvolCreateAsync("lvs", null, "vol", 1);
        Assert.That(Guid.TryParse(uuid, out _), Is.True);
        Assert.That(Error("bdev_lvol_create", """{"lvs_name":"lvs","lvol_name":"vol","size_in_mib":1}"""), Is.EqualTo((-17, "File exists")));
        Assert.That(Error("bdev_lvol_create", $$"""{"lvs_name":"lvs","uuid":"{{_store.Uuid}}","lvol_name":"x","size_in_mib":1}"""), Is.EqualTo((-22, "Invalid argument")), "both");
        Assert.That(Error("bdev_lvol_create", """{"lvol_name":"x","size_in_mib":1}"""), Is.EqualTo((-22, "Invalid argument")), "neither");
        Assert.That(Error("bdev_lvol_create", """{"lvs_name":"lvs","lvol_name":"x"}"""), Is.EqualTo((-32603, "spdk_json_decode_object failed")), "size missing");
        var created = await CallAsync("bdev_lvol_create", $$"""{"uuid":"{{_store.Uuid}}","lvol_name":"byuuid","size_in_mib":1,"clear_method":"unmap"}""");
        Assert.That(JsonDocument.Parse(created).RootElement.GetString(), Is.EqualTo(_store.GetLvol("byuuid").Uuid.ToString()));
    }

    [Test]
    public async Task SnapshotCloneDelete_asynchronousFailures_carryTheErrnoText()
    {
        await StartAsync();
        await _client.BdevLvolCreateAsync("lvs", null, "vol", 1);
        await _client.BdevLvolSnapshotAsync("lvs/vol", "snap");
        Assert.That(Error("bdev_lvol_snapshot", """{"lvol_name":"lvs/vol","snapshot_name":"snap"}"""), Is.EqualTo((-32602, "File exists")));
        Assert.That(Error("bdev_lvol_clone", """{"snapshot_name":"lvs/vol","clone_name":"c"}"""), Is.EqualTo((-32602, "Invalid argument")), "source not read-only");
        await _client.BdevLvolCloneAsync("lvs/snap", "clone");
        Assert.That(Error("bdev_lvol_delete", """{"name":"lvs/snap"}"""), Is.EqualTo((-32603, "Operation not permitted")), "a snapshot with two clones");
        Assert.That(Error("bdev_lvol_decouple_parent", """{"name":"lvs/snap"}"""), Is.EqualTo((-32602, "Invalid argument")), "no parent");
        Assert.That(await _client.BdevLvolDeleteAsync("lvs/clone"), Is.True);
        Assert.That(await _client.BdevLvolDeleteAsync("lvs/snap"), Is.True);
    }

    [Test]
    public async Task SetParent_toTheCurrentParent_isFileExists()
    {
        await StartAsync();
        await _client.BdevLvolCreateAsync("lvs", null, "vol", 1);
        await _client.BdevLvolSnapshotAsync("lvs/vol", "snap");
        await _client.BdevLvolCreateAsync("lvs", null, "small", 2);
        Assert.That(Error("bdev_lvol_set_parent", """{"lvol_name":"lvs/vol","parent_name":"lvs/snap"}"""), Is.EqualTo((-32602, "File exists")));
        Assert.That(Error("bdev_lvol_set_parent", """{"lvol_name":"lvs/small","parent_name":"lvs/snap"}"""), Is.EqualTo((-32602, "Invalid argument")), "another cluster count");
        Assert.That(Error("bdev_lvol_set_parent", """{"lvol_name":"lvs/small","parent_name":"lvs/vol"}"""), Is.EqualTo((-32602, "Invalid argument")), "parent not a snapshot");
    }

    [Test]
    public async Task Lists_haveLonghornsShapes_includingCreationTime()
    {
        await StartAsync();
        var uuid = await _client.BdevLvolCreateAsync("lvs", null, "vol", 1);
        await _client.BdevLvolSnapshotAsync("lvs/vol", "snap");

        using var bdevs = JsonDocument.Parse(await CallAsync("bdev_get_bdevs", $$"""{"name":"{{uuid}}","timeout":100}"""));
        var bdev = bdevs.RootElement.EnumerateArray().Single();
        Assert.That(bdev.GetProperty("name").GetString(), Is.EqualTo(uuid));
        Assert.That(bdev.GetProperty("aliases")[0].GetString(), Is.EqualTo("lvs/vol"));
        Assert.That(bdev.GetProperty("product_name").GetString(), Is.EqualTo("Logical Volume"));
        Assert.That(DateTimeOffset.TryParseExact(bdev.GetProperty("creation_time").GetString(), "yyyy-MM-dd'T'HH:mm:ss'Z'", null,
            System.Globalization.DateTimeStyles.AssumeUniversal, out var created), Is.True, "RFC 3339 creation_time");
        Assert.That(created, Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(5)));
        var lvol = bdev.GetProperty("driver_specific").GetProperty("lvol");
        Assert.That(lvol.GetProperty("base_snapshot").GetString(), Is.EqualTo("snap"));
        Assert.That(lvol.GetProperty("clone").GetBoolean(), Is.True);
        Assert.That(lvol.GetProperty("esnap_clone").GetBoolean(), Is.False);
        Assert.That(lvol.GetProperty("lvol_store_uuid").GetString(), Is.EqualTo(_store.Uuid.ToString()));

        using var lvols = JsonDocument.Parse(await CallAsync("bdev_lvol_get_lvols", """{"lvs_name":"lvs"}"""));
        var snap = lvols.RootElement.EnumerateArray().Single(l => l.GetProperty("name").GetString() == "snap");
        foreach (var member in new[] { "alias", "uuid", "name", "creation_time", "is_thin_provisioned", "is_snapshot", "is_clone", "is_esnap_clone", "is_degraded", "lvs" })
        {
            Assert.That(snap.TryGetProperty(member, out _), Is.True, member);
        }
        Assert.That(snap.GetProperty("lvs").GetProperty("uuid").GetString(), Is.EqualTo(_store.Uuid.ToString()));
    }

    [Test]
    public async Task SnapshotChecksums_lifecycle_isLonghorns()
    {
        await StartAsync();
        await _client.BdevLvolCreateAsync("lvs", null, "vol", 1);
        await WriteAsync(_store, "vol", Small, Pattern(Small, 3));
        await _client.BdevLvolSnapshotAsync("lvs/vol", "snap");

        Assert.That(Error("bdev_lvol_get_snapshot_checksum", """{"name":"lvs/snap"}"""), Is.EqualTo((-19, "No such device")), "none registered yet");
        Assert.That(Error("bdev_lvol_get_snapshot_range_checksums", """{"name":"lvs/snap","cluster_start_index":0,"cluster_count":1}"""),
            Is.EqualTo((-2, "No such file or directory")), "never registered");
        Assert.That(Error("bdev_lvol_register_snapshot_checksum", """{"name":"lvs/vol"}"""), Is.EqualTo((-32603, "Operation not permitted")), "not a snapshot");
        Assert.That(Error("bdev_lvol_stop_snapshot_checksum", """{"name":"lvs/snap"}"""), Is.EqualTo((-3, "No such process")));

        Assert.That(await _client.BdevLvolRegisterRangeChecksumsAsync("lvs/snap"), Is.True);
        var window = await _client.BdevLvolGetRangeChecksumsAsync("lvs/snap", 0, 16);
        Assert.That(window.Keys, Is.EqualTo(Enumerable.Range(0, 16).Select(i => (ulong)i)), "exactly cluster_count entries, in order");
        Assert.That(window.Where(kv => kv.Value != 0).Select(kv => kv.Key), Is.EqualTo(new ulong[] { 1 }));
        Assert.That(await _client.BdevLvolGetSnapshotChecksumAsync("lvs/snap"), Is.EqualTo(window[1]), "one cluster: the chain is its checksum");
        Assert.That(Error("bdev_lvol_get_snapshot_range_checksums", """{"name":"lvs/snap","cluster_start_index":10,"cluster_count":7}"""),
            Is.EqualTo((-22, "Invalid argument")), "window outside the lvol");
    }

    [Test]
    public async Task RangeShallowCopy_limitsAndLaterFailures_areLonghorns()
    {
        await StartAsync();
        await _client.BdevLvolCreateAsync("lvs", null, "vol", 1);
        await WriteAsync(_store, "vol", 0, Pattern(Small, 4));
        await _client.BdevLvolSnapshotAsync("lvs/vol", "snap");
        await _client.BdevLvolCreateAsync("lvs", null, "dst", 1);

        var clusters257 = string.Join(",", Enumerable.Range(0, 257).Select(i => (i % 16).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(Error("bdev_lvol_start_range_shallow_copy", $$"""{"src_lvol_name":"lvs/snap","dst_bdev_name":"lvs/dst","clusters":[{{clusters257}}]}"""),
            Is.EqualTo((-32603, "spdk_json_decode_object failed")), "at most 256 clusters");
        Assert.That(Error("bdev_lvol_start_range_shallow_copy", """{"src_lvol_name":"lvs/snap","dst_bdev_name":"lvs/dst","clusters":[1.5]}"""),
            Is.EqualTo((-32603, "spdk_json_decode_object failed")), "non-integers");
        Assert.That(Error("bdev_lvol_start_range_shallow_copy", """{"src_lvol_name":"lvs/snap","dst_bdev_name":"lvs/dst","clusters":[]}"""),
            Is.EqualTo((-22, "Invalid argument")), "empty list");
        Assert.That(Error("bdev_lvol_start_shallow_copy", """{"src_lvol_name":"lvs/snap","dst_bdev_name":"nowhere"}"""),
            Is.EqualTo((-32602, "No such device")), "unknown destination of a whole copy");

        await _client.BdevLvolCreateAsync("lvs", null, "big", 16);
        await WriteAsync(_store, "big", 0, Pattern(16 * MiB, 6));
        await _client.BdevLvolSnapshotAsync("lvs/big", "bigsnap");
        await _client.BdevLvolCreateAsync("lvs", null, "bigdst", 16);
        var ok = await _client.BdevLvolStartRangeShallowCopyAsync("lvs/bigsnap", "lvs/bigdst", Enumerable.Range(0, 256).Select(i => (ulong)i).ToList());
        var done = await PollAsync(ok);
        Assert.That((done.State, done.CopiedClusters, done.TotalClusters), Is.EqualTo(("complete", 256UL, 256UL)), "256 clusters are accepted");
        Assert.That(await ReadAllAsync(_store, "bigdst"), Is.EqualTo(await ReadAllAsync(_store, "bigsnap")));

        var pastEnd = await _client.BdevLvolStartRangeShallowCopyAsync("lvs/snap", "lvs/dst", [0, 16]);
        var failed = await PollAsync(pastEnd);
        Assert.That((failed.State, failed.Error, failed.TotalClusters), Is.EqualTo(("error", "Invalid argument", 2UL)), "an index past the end is reported later");
        Assert.That(Error("bdev_lvol_check_shallow_copy", $$"""{"operation_id":{{pastEnd}}}"""), Is.EqualTo((-19, "No such device")), "freed by the terminal read");

        var writable = await _client.BdevLvolStartShallowCopyAsync("lvs/vol", "lvs/dst");
        Assert.That(writable, Is.GreaterThan(pastEnd), "ids count up");
        var refused = await PollAsync(writable);
        Assert.That((refused.State, refused.Error), Is.EqualTo(("error", "Operation not permitted")), "a writable source is reported later");
    }

    [Test]
    public async Task WholeShallowCopy_toASmallerDestination_isReportedLater()
    {
        await StartAsync();
        await _client.BdevLvolCreateAsync("lvs", null, "vol", 2);
        await WriteAsync(_store, "vol", 0, Pattern(Small, 5));
        await _client.BdevLvolSnapshotAsync("lvs/vol", "snap");
        await _client.BdevLvolCreateAsync("lvs", null, "dst", 1);
        var id = await _client.BdevLvolStartShallowCopyAsync("lvs/snap", "lvs/dst");
        var status = await PollAsync(id);
        Assert.That((status.State, status.Error, status.TotalClusters), Is.EqualTo(("error", "Invalid argument", 1UL)), "total = clusters the source holds");

        var readOnly = await _client.BdevLvolStartShallowCopyAsync("lvs/snap", "lvs/snap");
        var refused = await PollAsync(readOnly);
        Assert.That((refused.State, refused.Error), Is.EqualTo(("error", "Operation not permitted")), "a snapshot cannot be written: reported later too");
    }
}
