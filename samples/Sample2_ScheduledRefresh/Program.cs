// Sample 2: a scheduled refresh in a generic host.
//
// A BackgroundService snapshots a volume every ScheduledRefresh:Interval (appsettings.json), refreshes it to a second
// store, checks the copy of the new snapshot against the source, and keeps the last ScheduledRefresh:Keep snapshots on
// both sides (never deleting the newest one both sides share). DeltaSnap comes from the container (AddDeltaSnap), its
// settings from the DeltaSnap section; its meter's measurements are logged through a MeterListener.
//
// With no volumes configured it makes two lvol stores and a volume with some data in a temporary directory.
//
//     dotnet run -c Release --project samples/Sample2_ScheduledRefresh -- --once     (one snapshot + refresh, then exit)
//     dotnet run -c Release --project samples/Sample2_ScheduledRefresh                (every minute until Ctrl+C)

using Sample2_ScheduledRefresh;

return await ScheduledRefreshApp.RunAsync(args).ConfigureAwait(false);
