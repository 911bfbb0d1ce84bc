using DeltaSnap.Remote.Transports;
using DeltaSnap.Testing;

namespace DeltaSnap.Remote.Network.Tests;

/// <summary>
/// The transports' part of DeltaSnap.Remote's public surface, tracked in <c>src/DeltaSnap.Remote/Transports/PublicAPI.Transports.txt</c>
/// (the package's <c>PublicAPI.Shipped.txt</c> must hold the same lines; set <c>DELTASNAP_UPDATE_PUBLIC_API=1</c> to rewrite this file).
/// </summary>
public sealed class TransportsPublicApiTests
{
    [Test]
    public void PublicSurface_transports_matchesTheirFile()
    {
        var actual = PublicApiSurface.Describe(typeof(TlsTransport).Assembly)
            .Where(l => l.Contains("DeltaSnap.Remote.Transports.", StringComparison.Ordinal) || l.Contains("DeltaSnap.RemoteVolumeResolverExtensions", StringComparison.Ordinal))
            .ToArray();
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DeltaSnap.sln")))
        {
            dir = dir.Parent;
        }
        var file = Path.Combine(dir!.FullName, "src", "DeltaSnap.Remote", "Transports", "PublicAPI.Transports.txt");
        if (Environment.GetEnvironmentVariable("DELTASNAP_UPDATE_PUBLIC_API") == "1")
        {
            File.WriteAllLines(file, actual);
        }
        Assert.That(File.ReadAllLines(file).Where(l => l.Length > 0), Is.EqualTo(actual));
    }
}
