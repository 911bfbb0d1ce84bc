using DeltaSnap.ExternalCommands;
using DeltaSnap.Replication;

namespace DeltaSnap.Rsync.Tests;

/// <summary>
/// The Landlock confinement of the rsync a server runs for a peer (<see cref="RsyncTreeSynchronizer.ServeAsync"/>), on
/// the real kernel. In place of rsync the server runs a shell script that does what a hostile sender could try to
/// make a receiver do (write, make, remove and link outside the tree, also through a symbolic link it planted): the
/// server's own rsync is not known to be open to any of it, but a confinement is only shown by attempts that would
/// succeed without it, which the last case shows they do. The real rsync under the same confinement is run by
/// <c>RemoteRsyncRouteTests</c> and the network tests, which push into trees with and without a link directory and
/// pull from snapshots.
/// </summary>
public sealed class ServerConfinementTests
{
    private DirectoryInfo _root = null!;
    private string _tree = null!;
    private string _outside = null!;
    private string _link = null!;

    [SetUp]
    public void SetUp()
    {
        BackendRequirement.Require(Landlock.IsAvailable, "Linux Landlock (kernel 5.13 or later)");
        _root = Directory.CreateTempSubdirectory("dsconfine-");
        _tree = Directory.CreateDirectory(Path.Combine(_root.FullName, "tree")).FullName;
        _outside = Directory.CreateDirectory(Path.Combine(_root.FullName, "outside")).FullName;
        _link = Directory.CreateDirectory(Path.Combine(_root.FullName, "snapshot")).FullName;
        File.WriteAllText(Path.Combine(_outside, "victim"), "intact");
        File.WriteAllText(Path.Combine(_link, "unchanged"), "shared");
        File.WriteAllText(Path.Combine(_link, "older"), "kept");
    }

    [TearDown]
    public void TearDown() => _root?.Delete(recursive: true);

    [Test]
    public async Task WrittenTree_changesInsideAreAllowed_everyChangeOutsideIsRefused()
    {
        var output = await ServeAsync(writable: true, linkDirectory: null, RsyncPeerConfinement.WhereSupported);

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(Path.Combine(_tree, "inside")), Is.EqualTo("x\n"), output);
            Assert.That(Directory.Exists(Path.Combine(_tree, "dir")), Is.True, output);
            Assert.That(File.Exists(Path.Combine(_tree, "dir", "moved")), Is.True, "a rename within the tree: " + output);
            Assert.That(File.Exists(Path.Combine(_outside, "escaped")), Is.False, output);
            Assert.That(File.Exists(Path.Combine(_outside, "through-symlink")), Is.False, output);
            Assert.That(Directory.Exists(Path.Combine(_outside, "made")), Is.False, output);
            Assert.That(File.ReadAllText(Path.Combine(_outside, "victim")), Is.EqualTo("intact"), "neither written, truncated nor removed: " + output);
            Assert.That(output, Does.Contain("write outside: refused"));
            Assert.That(output, Does.Contain("inside: done"));
        });
    }

    [Test]
    public async Task WrittenTreeWithLinkDirectory_filesAreLinkedFromIt_butNothingIsMadeOrRemovedThere()
    {
        var output = await ServeAsync(writable: true, linkDirectory: _link, RsyncPeerConfinement.WhereSupported);

        Assert.Multiple(() =>
        {
            var linked = Path.Combine(_tree, "linked");
            Assert.That(File.Exists(linked), Is.True, "--link-dest's hard link: " + output);
            Assert.That(File.ReadAllText(linked), Is.EqualTo("shared"), output);
            Assert.That(File.Exists(Path.Combine(_link, "made")), Is.False, output);
            Assert.That(File.Exists(Path.Combine(_link, "older")), Is.True, "not removed: " + output);
            Assert.That(File.Exists(Path.Combine(_link, "renamed")), Is.False, output);
            Assert.That(File.Exists(Path.Combine(_outside, "escaped")), Is.False, output);
        });
    }

    [Test]
    public async Task ReadTree_itsRsyncChangesNothingAnywhere()
    {
        var output = await ServeAsync(writable: false, linkDirectory: null, RsyncPeerConfinement.Required);

        Assert.Multiple(() =>
        {
            Assert.That(File.Exists(Path.Combine(_tree, "inside")), Is.False, output);
            Assert.That(Directory.Exists(Path.Combine(_tree, "dir")), Is.False, output);
            Assert.That(File.Exists(Path.Combine(_outside, "escaped")), Is.False, output);
            Assert.That(File.ReadAllText(Path.Combine(_outside, "victim")), Is.EqualTo("intact"), output);
            Assert.That(output, Does.Contain("read: done"), "reading is not restricted");
        });
    }

    [Test]
    public async Task Unconfined_theSameAttemptsSucceed()
    {
        var output = await ServeAsync(writable: true, linkDirectory: null, RsyncPeerConfinement.None);

        Assert.Multiple(() =>
        {
            Assert.That(File.Exists(Path.Combine(_outside, "escaped")), Is.True, output);
            Assert.That(File.Exists(Path.Combine(_outside, "through-symlink")), Is.True, output);
            Assert.That(File.Exists(Path.Combine(_outside, "victim")), Is.False, output);
        });
    }

    /// <summary>Serves the tree to a peer's (empty) protocol with the stand-in rsync; returns what it printed.</summary>
    private async Task<string> ServeAsync(bool writable, string? linkDirectory, RsyncPeerConfinement confinement)
    {
        var script = Path.Combine(_root.FullName, "hostile-rsync");
        File.WriteAllText(script, $$"""
            #!/bin/sh
            try() { what=$1; shift; if "$@" 2>/dev/null; then echo "$what: done"; else echo "$what: refused"; fi; }
            tree='{{_tree}}'; outside='{{_outside}}'; link='{{_link}}'
            try "read" sh -c "cat '$outside/victim' >/dev/null"
            try "inside" sh -c "echo x > '$tree/inside'"
            try "mkdir inside" mkdir "$tree/dir"
            try "rename inside" sh -c "echo y > '$tree/tmp' && mv '$tree/tmp' '$tree/dir/moved'"
            try "write outside" sh -c "echo x > '$outside/escaped'"
            try "mkdir outside" mkdir "$outside/made"
            try "truncate outside" truncate -s 0 "$outside/victim"
            try "symlink" ln -s "$outside" "$tree/evil"
            try "write through symlink" sh -c "echo x > '$tree/evil/through-symlink'"
            try "link from link directory" ln "$link/unchanged" "$tree/linked"
            try "make in link directory" sh -c "echo x > '$link/made'"
            try "rename in link directory" mv "$link/older" "$link/renamed"
            try "remove outside" rm "$outside/victim"
            exit 0
            """.Replace("\r", "", StringComparison.Ordinal));
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var synchronizer = new RsyncTreeSynchronizer(new RsyncTreeSynchronizerOptions { RsyncPath = script, PeerConfinement = confinement });
        List<string> arguments = writable
            ? ["--server", "-logDtpre.iLsfxCIvu", "--delete", ".", RsyncServerArguments.TreePlaceholder]
            : ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", RsyncServerArguments.TreePlaceholder];
        using var output = new MemoryStream();
        await synchronizer.ServeAsync(
            new TreeServeRequest { Directory = _tree, Arguments = arguments, Writable = writable, LinkDirectory = linkDirectory },
            new MemoryStream(), output);
        var printed = System.Text.Encoding.UTF8.GetString(output.ToArray());
        await TestContext.Out.WriteLineAsync(printed);
        return printed;
    }
}
