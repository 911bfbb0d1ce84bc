using Microsoft.Extensions.Options;

namespace DeltaSnap.Extensions.DependencyInjection;

/// <summary>
/// Checks <see cref="DeltaSnapOptions"/> by building the refresh options they describe (<see cref="DeltaSnapOptions.ToRefreshOptions"/>),
/// so the rules are the core's own; a failure names the setting (<c>DeltaSnap:ClusterSize</c>). <c>AddDeltaSnap</c> registers it with
/// <c>ValidateOnStart</c>, so a host with bad settings fails to start.
/// </summary>
public sealed class DeltaSnapOptionsValidator : IValidateOptions<DeltaSnapOptions>
{
    private readonly string _sectionPath;

    /// <summary>Creates a validator whose messages name settings under <paramref name="sectionPath"/>.</summary>
    /// <param name="sectionPath">The configuration path the options are bound from (<c>DeltaSnap</c>); empty to name the properties alone.</param>
    public DeltaSnapOptionsValidator(string sectionPath = DeltaSnapOptions.SectionName)
    {
        ArgumentNullException.ThrowIfNull(sectionPath);
        _sectionPath = sectionPath;
    }

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, DeltaSnapOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            _ = options.ToRefreshOptions();
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException e)
        {
            var setting = _sectionPath.Length == 0 ? e.ParamName : $"{_sectionPath}:{e.ParamName}";
            return ValidateOptionsResult.Fail($"{setting}: {DeltaSnapOptions.FirstSentence(e.Message)}");
        }
    }
}
