// A console tool's benchmark: there is no synchronization context to avoid, and ConfigureAwait on every line would hide the steps.
#pragma warning disable CA2007

using System.Globalization;
using DeltaSnap.RefreshBenchmarks;
using DeltaSnap.Replication;

namespace DeltaSnap.Bench;

/// <summary>
/// Runs a matrix. For each case of each pair the machine can open: a fresh source and target are made, the same base
/// data written, the base snapshotted and refreshed in full to the target, and each contender set up. Then the case's
/// change is applied to the source and snapshotted, and every contender moves that snapshot in <see cref="Matrix.Rounds"/>
/// rounds, the order rotating by one each round so that none always goes first; before each timed run the backend
/// settles, after it the target goes back to the base (untimed). Then both volumes are deleted.
/// </summary>
internal sealed class BenchRunner(Matrix matrix, BenchEnvironment environment, TextWriter log)
{
    /// <summary>Called with each refresh result DeltaSnap returned in-process (the tests compare the report with them).</summary>
    public Action<CaseKey, RefreshResult>? OnRefresh { get; init; }

    public async Task<BenchReport> RunAsync(CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var loadAtStart = BenchEnvironment.LoadAverage();
        await LogAsync($"matrix {matrix.Name} ({matrix.Sha256[..12]}), load average {loadAtStart}");
        var description = await environment.DescribeAsync(cancellationToken);
        var skipped = new List<Skipped>();
        var cases = new List<CaseResult>();
        foreach (var name in matrix.Pairs)
        {
            var probe = BackendPairs.Create(name, environment);
            if (await probe.ProbeAsync(cancellationToken) is { } reason)
            {
                skipped.Add(new Skipped(name, null, reason));
                await LogAsync($"{name}: skipped: {reason}");
                continue;
            }
            foreach (var (key, value) in await probe.DescribeAsync(cancellationToken))
            {
                description[key] = value;
            }
            foreach (var size in matrix.Cases().Where(c => c.Pair == name).Select(c => c.Size).Distinct())
            {
                cases.AddRange(await RunPairAsync(BackendPairs.Create(name, environment), size, skipped, cancellationToken));
            }
        }
        var loadAtEnd = BenchEnvironment.LoadAverage();
        await LogAsync($"done, load average {loadAtEnd}");
        return new BenchReport
        {
            MatrixName = matrix.Name,
            MatrixPath = matrix.Path,
            MatrixSha256 = matrix.Sha256,
            Rounds = matrix.Rounds,
            Started = started,
            Finished = DateTimeOffset.UtcNow,
            LoadAverageAtStart = loadAtStart,
            LoadAverageAtEnd = loadAtEnd,
            Environment = description,
            Skipped = skipped,
            Cases = cases,
        };
    }

    private async Task<List<CaseResult>> RunPairAsync(BackendPair pair, long size, List<Skipped> skipped, CancellationToken cancellationToken)
    {
        var peers = pair.Peers.ToList();
        var contenders = new List<Contender>();
        foreach (var contender in new Contender[] { new InProcessContender(), new CliContender() }.Concat(peers)
            .Where(c => matrix.Contenders is null || matrix.Contenders.Contains(c.Name)))
        {
            if (await contender.ProbeAsync(environment, cancellationToken) is { } reason)
            {
                if (!skipped.Any(s => s.Pair == pair.Name && s.Contender == contender.Name))
                {
                    skipped.Add(new Skipped(pair.Name, contender.Name, reason));
                    await LogAsync($"{pair.Name}: {contender.Name} skipped: {reason}");
                }
                continue;
            }
            contenders.Add(contender);
        }
        var streamMeter = peers.OfType<ProgramContender>().FirstOrDefault(c => c.Kind == ContenderKind.Native);
        var results = new List<CaseResult>();
        var number = 0;
        foreach (var key in matrix.Cases().Where(c => c.Pair == pair.Name && c.Size == size))
        {
            results.Add(await RunCaseAsync(pair, key, ++number, contenders, streamMeter, cancellationToken));
        }
        return results;
    }

    // Fresh volumes for every case, with the same base data: a rolled-back source is not the same as a fresh one
    // everywhere (RBD reports the extents a rollback wrote back as changed since the base, so they would join the next case).
    private async Task<CaseResult> RunCaseAsync(BackendPair pair, CaseKey key, int number, List<Contender> contenders,
        ProgramContender? streamMeter, CancellationToken cancellationToken)
    {
        // Block volumes get room after the data for the append pattern.
        var volumeSize = key.Size + ((long)Math.Ceiling(key.Size * matrix.MaxAppendPercent / 100 / (1 << 20)) << 20);
        try
        {
            await pair.CreateAsync("dsbench-" + Guid.NewGuid().ToString("N")[..8], volumeSize, cancellationToken);
            var data = await VolumeData.WriteAsync(pair.Source, key.Size, pair.FileSize, new Random(20261206), cancellationToken);
            await pair.Source.CreateSnapshotAsync(BackendPair.BaseSnapshot, cancellationToken: cancellationToken);
            var full = await pair.CreateReplicator().RefreshAsync(pair.Source, pair.Target, InProcessContender.Options, cancellationToken: cancellationToken);
            await LogAsync($"{key}: {data} written, base sent in full ({full.Route}, {full.BytesSent >> 20} MiB in {full.Duration.TotalSeconds:F1} s)");
            foreach (var contender in contenders)
            {
                await contender.SetupAsync(pair, cancellationToken);
            }
            var result = await MeasureCaseAsync(pair, key, number, data, contenders, streamMeter, cancellationToken);
            foreach (var contender in contenders)
            {
                await contender.TeardownAsync(pair, cancellationToken);
            }
            return result;
        }
        finally
        {
            await pair.DeleteAsync(CancellationToken.None);
        }
    }

    private async Task<CaseResult> MeasureCaseAsync(BackendPair pair, CaseKey key, int number, VolumeData data, List<Contender> contenders,
        ProgramContender? streamMeter, CancellationToken cancellationToken)
    {
        // The same change for every contender, and the same for the same case in another run of the matrix.
        var random = new Random((number * 1_000_003) + (ChangePatterns.Names.ToList().IndexOf(key.Pattern) * 10_007) + (int)(key.Rate * 1000));
        var changed = await ChangePatterns.ApplyAsync(key.Pattern, key.Rate, data, random, cancellationToken);
        var snapshot = "changed";
        await pair.Source.CreateSnapshotAsync(snapshot, cancellationToken: cancellationToken);
        var streamBytes = streamMeter is null ? 0 : await streamMeter.MeasureStreamAsync(pair, snapshot, cancellationToken);
        await LogAsync(string.Create(CultureInfo.InvariantCulture, $"{key}: {changed} bytes changed{(streamBytes > 0 ? $", native stream {streamBytes} bytes" : "")}"));
        var runs = contenders.ToDictionary(c => c.Name, _ => new List<RunSample>());
        var context = new RunContext(key, snapshot, streamBytes, environment, OnRefresh);
        // Each contender's first run is checked: what it made on the target must be the source snapshot's content.
        string? sourceDigest = null;
        var matches = new Dictionary<string, bool>();
        for (var round = 0; round < matrix.Rounds; round++)
        {
            var order = contenders.Skip(round % contenders.Count).Concat(contenders.Take(round % contenders.Count)).ToList();
            for (var position = 0; position < order.Count; position++)
            {
                var contender = order[position];
                await pair.SettleAsync(cancellationToken);
                var (cost, wire) = await contender.RunAsync(pair, context, cancellationToken);
                runs[contender.Name].Add(new RunSample(round + 1, position + 1, cost.WallSeconds, cost.CpuSeconds, cost.PeakRssBytes, wire));
                await LogAsync(string.Create(CultureInfo.InvariantCulture,
                    $"  round {round + 1} {contender.Name,-13} {cost.WallSeconds,7:F3} s  cpu {cost.CpuSeconds,6:F3} s  rss {cost.PeakRssBytes >> 20,5} MiB  wire {wire,12}"));
                if (round == 0)
                {
                    sourceDigest ??= await BackendPair.DigestAsync(pair.Source, snapshot, cancellationToken);
                    matches[contender.Name] = await contender.TargetDigestAsync(pair, context, cancellationToken) == sourceDigest;
                    if (!matches[contender.Name])
                    {
                        await LogAsync($"  {contender.Name}: THE TARGET DIFFERS FROM THE SOURCE SNAPSHOT after its run");
                    }
                }
                await contender.ResetAsync(pair, cancellationToken);
            }
        }
        return new CaseResult(key.Pair, key.Size, key.Pattern, key.Rate, changed, streamBytes,
            [.. contenders.Select(c => new ContenderResult(c.Name, c.Kind, c.Description, runs[c.Name], matches[c.Name]))]);
    }

    private async Task LogAsync(string line)
    {
        await log.WriteLineAsync(line);
        await log.FlushAsync();
    }
}
