namespace DeltaSnap.Delta;

/// <summary>How far <see cref="DeltaPlanner.PlanAsync(DeltaPlanRequest, CancellationToken)"/> has come.</summary>
/// <param name="ClustersDone">Clusters compared so far.</param>
/// <param name="ClusterCount">Clusters to compare in all.</param>
/// <param name="SourceBytesRead">Bytes read from the source so far.</param>
/// <param name="TargetBytesRead">Bytes read from the target so far.</param>
public readonly record struct DeltaPlanProgress(long ClustersDone, long ClusterCount, long SourceBytesRead, long TargetBytesRead);
