using System.Diagnostics;

namespace DeltaSnap.Diagnostics;

/// <summary>The <see cref="DeltaSnapDiagnostics.ActivitySourceName"/> activity source and the span and tag names it uses.</summary>
internal static class DeltaSnapActivities
{
    public static readonly ActivitySource Source = new(DeltaSnapDiagnostics.ActivitySourceName, typeof(DeltaSnapActivities).Assembly.GetName().Version?.ToString());

    /// <summary>Starts a span, or returns null when nobody listens.</summary>
    public static Activity? Start(string name) => Source.StartActivity(name, ActivityKind.Internal);

    /// <summary>Marks <paramref name="activity"/> failed the OpenTelemetry way: status Error, an exception event, <c>error.type</c>.</summary>
    public static void SetError(this Activity? activity, Exception exception)
    {
        if (activity is null)
        {
            return;
        }
        activity.SetStatus(ActivityStatusCode.Error, exception.Message);
        activity.SetTag(DiagnosticNames.ErrorType, DiagnosticNames.ErrorTypeOf(exception));
        activity.AddException(exception);
    }
}

/// <summary>The span names and the tag names of spans and measurements, lowercase and dotted as OpenTelemetry's semantic conventions have them.</summary>
internal static class DiagnosticNames
{
    public const string RefreshSpan = "deltasnap.refresh";
    public const string PlanSpan = "deltasnap.refresh.plan";
    public const string PrepareSpan = "deltasnap.refresh.prepare";
    public const string SendSnapshotSpan = "deltasnap.refresh.send_snapshot";
    public const string LiveStateSpan = "deltasnap.refresh.live_state";
    public const string PromoteSpan = "deltasnap.refresh.promote";
    public const string CleanupSpan = "deltasnap.refresh.cleanup";

    public const string ErrorType = "error.type";
    public const string Route = "deltasnap.refresh.route";
    public const string Kind = "deltasnap.refresh.kind";
    public const string SourceScheme = "deltasnap.source.scheme";
    public const string TargetScheme = "deltasnap.target.scheme";
    public const string SourceAddress = "deltasnap.source.address";
    public const string TargetAddress = "deltasnap.target.address";
    public const string Snapshot = "deltasnap.snapshot.name";
    public const string SnapshotCount = "deltasnap.refresh.snapshot_count";
    public const string BytesSent = "deltasnap.bytes_sent";
    public const string BytesWritten = "deltasnap.bytes_written";
    public const string BytesRead = "deltasnap.bytes_read";
    public const string AfterFailure = "deltasnap.cleanup.after_failure";

    /// <summary>The value of <c>error.type</c>: the exception's full type name, as the semantic conventions recommend.</summary>
    public static string ErrorTypeOf(Exception exception) => exception.GetType().FullName ?? exception.GetType().Name;
}
