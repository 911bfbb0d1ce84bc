namespace Sample2_ScheduledRefresh;

/// <summary>The <c>ScheduledRefresh</c> section of appsettings.json.</summary>
public sealed class ScheduledRefreshOptions
{
    /// <summary>The section's name.</summary>
    public const string SectionName = "ScheduledRefresh";

    /// <summary>The source volume's address; empty: <c>lvol:DIRECTORY/site-a.lvs#data</c>.</summary>
    public string Source { get; set; } = "";

    /// <summary>The target volume's address; empty: <c>lvol:DIRECTORY/site-b.lvs#data</c>.</summary>
    public string Target { get; set; } = "";

    /// <summary>Where the default stores live; empty: <c>deltasnap-sample2</c> in the temporary directory.</summary>
    public string Directory { get; set; } = "";

    /// <summary>How often to snapshot and refresh.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How many of this worker's snapshots to keep on each side (at least 1).</summary>
    public int Keep { get; set; } = 3;

    /// <summary>Create missing volumes (and lvol stores) with some data in them.</summary>
    public bool CreateIfMissing { get; set; } = true;

    /// <summary>Before each snapshot, rewrite a few blocks of the source, standing in for an application that writes to it.</summary>
    public bool SimulateWrites { get; set; } = true;

    /// <summary>The size of volumes created here.</summary>
    public long VolumeSize { get; set; } = 64L << 20;

    internal string DefaultDirectory => Directory.Length > 0 ? Directory : Path.Combine(Path.GetTempPath(), "deltasnap-sample2");

    internal string SourceAddress => Source.Length > 0 ? Source : $"lvol:{Path.Combine(DefaultDirectory, "site-a.lvs")}#data";

    internal string TargetAddress => Target.Length > 0 ? Target : $"lvol:{Path.Combine(DefaultDirectory, "site-b.lvs")}#data";
}
