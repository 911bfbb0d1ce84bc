namespace DeltaSnap.Lvol;

/// <summary>
/// What a read of an lvol reads, walking down its layers: for each piece of the range, the store file at an offset
/// (a layer's own blocks) or zeros (an explicit hole, past a layer's size, or below the last layer). Pure: it reads
/// the layers it is given (the store calls it under its state lock) and changes nothing.
/// </summary>
internal sealed class ReadResolver(StoreGeometry geometry)
{
    private readonly StoreGeometry _geometry = geometry;

    /// <summary>Whether any layer from <paramref name="layer"/> down may hold data for the cluster.</summary>
    public bool AnyDataBelow(LvolNode? layer, long cluster)
    {
        var clusterOffset = cluster << _geometry.ClusterShift;
        while (layer is not null)
        {
            if (layer.Size <= clusterOffset)
            {
                return false;
            }
            var e = layer.Map.Get(cluster);
            if (e.Kind == ClusterKind.Zero)
            {
                return false;
            }
            if (e.Kind == ClusterKind.Data)
            {
                return true;
            }
            layer = layer.Parent;
        }
        return false;
    }

    /// <summary>Appends the segments that <paramref name="length"/> bytes at <paramref name="offset"/> read from, walking down from <paramref name="layer"/>.</summary>
    public void ResolveRange(LvolNode? layer, long offset, int length, List<ReadSegment> output)
    {
        while (length > 0)
        {
            var cluster = offset >> _geometry.ClusterShift;
            var inCluster = (int)(offset & (_geometry.ClusterSize - 1));
            var n = Math.Min(length, _geometry.ClusterSize - inCluster);
            ResolveCluster(layer, cluster, inCluster, inCluster + n, output);
            offset += n;
            length -= n;
        }
    }

    /// <summary>
    /// Appends the segments that bytes <c>[start, end)</c> of <paramref name="cluster"/> read from, walking down from
    /// <paramref name="layer"/>: a layer's own blocks, an explicit hole, or (past a layer's size, or below the last
    /// layer) zeros.
    /// </summary>
    public void ResolveCluster(LvolNode? layer, long cluster, int start, int end, List<ReadSegment> output)
    {
        var clusterOffset = cluster << _geometry.ClusterShift;
        while (layer is not null)
        {
            var limit = layer.Size - clusterOffset;
            if (limit <= start)
            {
                break;
            }
            if (limit < end)
            {
                ResolveCluster(layer, cluster, start, (int)limit, output);
                Add(output, -1, end - (int)limit);
                return;
            }
            var e = layer.Map.Get(cluster);
            if (e.Kind == ClusterKind.None)
            {
                layer = layer.Parent;
                continue;
            }
            if (e.Kind == ClusterKind.Zero)
            {
                Add(output, -1, end - start);
                return;
            }
            var physical = _geometry.FileOffsetOf(e.Physical);
            if (e.Valid is null)
            {
                Add(output, physical + start, end - start);
                return;
            }
            var valid = e.ValidBlocks(_geometry.BlocksPerCluster);
            var pos = start;
            while (pos < end)
            {
                var block = pos >> StoreGeometry.BlockShift;
                var runEnd = Math.Min(end, valid.RunEnd(block) << StoreGeometry.BlockShift);
                if (valid.Contains(block))
                {
                    Add(output, physical + pos, runEnd - pos);
                }
                else if (e.Opaque)
                {
                    Add(output, -1, runEnd - pos);
                }
                else
                {
                    ResolveCluster(layer.Parent, cluster, pos, runEnd, output);
                }
                pos = runEnd;
            }
            return;
        }
        Add(output, -1, end - start);
    }

    /// <summary>Appends a segment, joined to the last one when it continues it.</summary>
    private static void Add(List<ReadSegment> output, long fileOffset, int length)
    {
        if (length <= 0)
        {
            return;
        }
        if (output.Count > 0)
        {
            var last = output[^1];
            if ((fileOffset < 0 && last.FileOffset < 0) || (fileOffset >= 0 && last.FileOffset >= 0 && last.FileOffset + last.Length == fileOffset))
            {
                output[^1] = last with { Length = last.Length + length };
                return;
            }
        }
        output.Add(new ReadSegment(fileOffset, length));
    }
}

/// <summary>A piece of a read: <paramref name="Length"/> bytes at <paramref name="FileOffset"/> in the store file, or zeros when it is negative.</summary>
internal readonly record struct ReadSegment(long FileOffset, int Length);
