using System.Text.Json;

namespace DeltaSnap.Remote.Network.Tests.Support;

internal static class Json
{
    public static long Long(string json, string property)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.GetProperty(property).GetInt64();
    }
}
