using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using DeltaSnap.Testing;

namespace DeltaSnap.Remote.Network.Tests.Support;

/// <summary>
/// Two hosts on one machine: network namespaces <see cref="ServerNamespace"/> and <see cref="ClientNamespace"/>,
/// joined by a veth pair, with <see cref="ServerAddress"/> and <see cref="ClientAddress"/> only inside them. Names are
/// unique per run; disposing deletes both (which deletes the veth pair).
/// </summary>
internal sealed class NetworkPair : IDisposable
{
    private NetworkPair(string id)
    {
        ServerNamespace = id + "s";
        ClientNamespace = id + "c";
        ServerLink = id + "S";
        ClientLink = id + "C";
        var third = RandomNumberGenerator.GetInt32(0, 250);
        ServerAddress = IPAddress.Parse($"10.213.{third}.1");
        ClientAddress = IPAddress.Parse($"10.213.{third}.2");
    }

    public string ServerNamespace { get; }

    public string ClientNamespace { get; }

    /// <summary>The veth end inside the server's namespace.</summary>
    public string ServerLink { get; }

    /// <summary>The veth end inside the client's namespace.</summary>
    public string ClientLink { get; }

    public IPAddress ServerAddress { get; }

    public IPAddress ClientAddress { get; }

    /// <summary>Creates the pair; fails or ignores the test (<see cref="BackendRequirement"/>) when this is not root or <c>ip netns</c> fails.</summary>
    public static NetworkPair Create()
    {
        var ip = BackendRequirement.FindProgram("ip");
        BackendRequirement.Require(ip is not null, "The program `ip` (Debian package iproute2)");
        BackendRequirement.Require(Environment.UserName == "root" || Mount.IsRoot(), "Root (network namespaces)");
        var pair = new NetworkPair("dsn" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3)));
        try
        {
            Ip("netns", "add", pair.ServerNamespace);
            Ip("netns", "add", pair.ClientNamespace);
            Ip("link", "add", pair.ServerLink, "type", "veth", "peer", "name", pair.ClientLink);
            Ip("link", "set", pair.ServerLink, "netns", pair.ServerNamespace);
            Ip("link", "set", pair.ClientLink, "netns", pair.ClientNamespace);
            Ip("-n", pair.ServerNamespace, "addr", "add", pair.ServerAddress + "/30", "dev", pair.ServerLink);
            Ip("-n", pair.ClientNamespace, "addr", "add", pair.ClientAddress + "/30", "dev", pair.ClientLink);
            foreach (var (ns, link) in new[] { (pair.ServerNamespace, pair.ServerLink), (pair.ClientNamespace, pair.ClientLink) })
            {
                Ip("-n", ns, "link", "set", "lo", "up");
                Ip("-n", ns, "link", "set", link, "up");
            }
        }
        catch (InvalidOperationException e)
        {
            pair.Dispose();
            BackendRequirement.Require(false, $"Network namespaces (`ip netns add` failed: {e.Message.Trim()})");
        }
        return pair;
    }

    /// <summary>Limits what the server sends and what the client sends to <paramref name="rate"/> (a tbf qdisc on both veth ends: <c>100mbit</c>, <c>1gbit</c>).</summary>
    public void LimitRate(string rate)
    {
        foreach (var (ns, link) in new[] { (ServerNamespace, ServerLink), (ClientNamespace, ClientLink) })
        {
            BackendRequirement.Run("ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", link, "root", "tbf", "rate", rate, "burst", "256kb", "latency", "50ms");
        }
    }

    /// <summary>The bytes the client's veth end has received so far (the kernel's count: everything the server sent it, headers included).</summary>
    public long ClientReceivedBytes()
    {
        var json = BackendRequirement.Run("ip", "-n", ClientNamespace, "-j", "-s", "link", "show", "dev", ClientLink);
        using var document = System.Text.Json.JsonDocument.Parse(json);
        return document.RootElement[0].GetProperty("stats64").GetProperty("rx").GetProperty("bytes").GetInt64();
    }

    /// <summary>Takes the link down (both ends) or up again.</summary>
    public void SetLink(bool up)
    {
        Ip("-n", ServerNamespace, "link", "set", ServerLink, up ? "up" : "down");
        Ip("-n", ClientNamespace, "link", "set", ClientLink, up ? "up" : "down");
    }

    public void Dispose()
    {
        foreach (var ns in new[] { ServerNamespace, ClientNamespace })
        {
            try
            {
                Ip("netns", "del", ns);
            }
            catch (InvalidOperationException)
            {
                // Never made, or gone.
            }
        }
    }

    private static void Ip(params string[] arguments) => BackendRequirement.Run("ip", arguments);
}

/// <summary>Whether this process runs as root.</summary>
internal static class Mount
{
    public static bool IsRoot()
    {
        using var id = Process.Start(new ProcessStartInfo("id", "-u") { RedirectStandardOutput = true, UseShellExecute = false })!;
        var text = id.StandardOutput.ReadToEnd().Trim();
        id.WaitForExit();
        return text == "0";
    }
}
